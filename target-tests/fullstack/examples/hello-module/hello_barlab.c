// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * hello_barlab: the example module of `barlab build module` and
 * `barlab fullstack --module`: it says hello when loaded, so the console
 * shows that L2 loaded it before the program ran.
 */
#include <linux/init.h>
#include <linux/module.h>

static int __init hello_barlab_init(void)
{
	pr_info("hello_barlab: loaded\n");
	return 0;
}

static void __exit hello_barlab_exit(void)
{
	pr_info("hello_barlab: unloaded\n");
}

module_init(hello_barlab_init);
module_exit(hello_barlab_exit);
MODULE_DESCRIPTION("barlab's example out-of-tree module");
MODULE_LICENSE("GPL");
