// SPDX-License-Identifier: GPL-2.0-or-later
//
// Each fact in one place: the pattern list (hw/memtype/patterns.h), the
// fault ids (memtype.c), the report names of stage-1 attributes and the
// default CPU and policies (memtype.c, oracle.c) are the C core's, and
// every other part reads them (the payloads include patterns.h, the host
// side asks barlab-mt).  The devices' PCI IDs and push BAR limit are their
// headers' (hw/barlab), the matrix payload's layout is matrix-layout.h's,
// and the host side reads them with barlab.regmaps.  These tests fail when a copy comes back, and
// when the one copy that must stay, the payload's assembly of each
// pattern, no longer matches the table.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

extern "C" {
#include "oracle.h"
}

namespace fs = std::filesystem;

namespace {

const fs::path root = SOURCE_ROOT;

std::string slurp(const fs::path &p)
{
    std::ifstream f(p, std::ios::binary);
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
}

// The source files of the tree (code, not prose or scenario data), relative to root.
std::vector<std::string> code_files()
{
    static const std::set<std::string> exts = { ".c", ".h", ".cc", ".S", ".py", ".sh" };
    std::vector<std::string> out;
    // Not tests/: a test spells out what it expects.
    for (const char *dir : { "hw", "target-tests", "scripts", "python", "guest-drivers", "bench",
                             "tools" }) {
        if (!fs::is_directory(root / dir)) {
            continue;
        }
        for (auto it = fs::recursive_directory_iterator(root / dir);
             it != fs::recursive_directory_iterator(); ++it) {
            if (it->is_directory() && it->path().filename().string()[0] == '.') {
                it.disable_recursion_pending();
            } else if (it->is_regular_file() && exts.count(it->path().extension().string())) {
                out.push_back(fs::relative(it->path(), root).string());
            }
        }
    }
    return out;
}

struct Fact {
    const char *what;
    const char *needle;             // in every copy: files without it are not searched
    const char *copy;               // a regex that finds a copy of it
    std::set<std::string> homes;    // the files allowed to hold it
    const char *owner = "the C core";   // where every other part reads it
};

const Fact facts[] = {
    { "the patterns' order", "str8_unaligned",
      R"(\bstr8\b[\s\S]{1,12}?\bstr8_unaligned\b[\s\S]{1,12}?\bldr8\b)",
      { "hw/memtype/patterns.h" } },
    { "the fault ids", "stage1-el1", R"("none"\W{1,12}"stage1-el1"\W{1,12}"stage2-el2")", {} },
    { "the stage-1 attributes' report names", "Normal-NC",
      R"("0x44"\s*:\s*"Normal-NC")", {} },
    { "agree's default CPUs", "max neoverse-n1", R"(\bmax neoverse-n1\b)", {} },
    { "fullstack's default policies", "device prefetchable any",
      R"(["']device prefetchable any["'])", {} },
    // The Linux drivers keep their own names for them, which barlab.regmaps
    // compares with the headers (tests/cli/test_regmaps.py).
    { "the devices' PCI IDs", "ba0", R"(\b(0x)?ba0[12]\b)",
      { "hw/barlab/barlab-gpu.h", "hw/barlab/nic-regs.h", "guest-drivers/barlab_gpu.c",
        "guest-drivers/barlab_nic.c" }, "hw/barlab's headers" },
    { "the matrix payload's group size", "",
      R"([Gg][Rr][Oo][Uu][Pp].*\b(8192|0x2000|2 \* SZ_4K)\b)",
      { "target-tests/payloads/matrix-layout.h" }, "target-tests/payloads/matrix-layout.h" },
    { "the matrix payload's slot size", "SLOT", R"(SLOT(_SIZE)?\b.{0,8}\b(256|0x100)\b)",
      { "target-tests/payloads/matrix-layout.h" }, "target-tests/payloads/matrix-layout.h" },
    { "barlab-nic's largest push BAR", "16", R"([Pp][Uu][Ss][Hh].*(16 \* MiB|16 << 20))", {},
      "hw/barlab/nic-regs.h" },
};

} // namespace

TEST(Facts, PatternTableComplete)
{
    std::set<std::string> names;

    ASSERT_GT(mt_pattern_count(), 0u);
    for (unsigned i = 0; i < mt_pattern_count(); i++) {
        const MtPattern *p = mt_pattern_at(i);

        ASSERT_NE(p->name, nullptr) << "patterns.h lists pattern " << i
                                    << ", oracle.c's table has no entry for it";
        EXPECT_TRUE(names.insert(p->name).second) << p->name;
        EXPECT_EQ(mt_pattern_find(p->name), p);
        EXPECT_GT(p->ninsns, 0u) << p->name;
    }
    EXPECT_EQ(mt_pattern_at(mt_pattern_count()), nullptr);
}

// matrix-patterns.S has one function per pattern of the table: no more, no less.
TEST(Facts, PayloadAssemblyIsTheTable)
{
    const std::string text = slurp(root / "target-tests/payloads/matrix-patterns.S");
    const std::regex def(R"((^|\n)pattern\s+([a-z0-9_]+))");
    std::set<std::string> in_asm, in_table;

    for (auto m = std::sregex_iterator(text.begin(), text.end(), def);
         m != std::sregex_iterator(); ++m) {
        in_asm.insert((*m)[2]);
    }
    for (unsigned i = 0; i < mt_pattern_count(); i++) {
        in_table.insert(mt_pattern_at(i)->name);
    }
    EXPECT_EQ(in_asm, in_table);
}

TEST(Facts, DefinedOnce)
{
    const std::vector<std::string> files = code_files();

    ASSERT_GT(files.size(), 10u) << "no source tree at " << root;
    for (const std::string &file : files) {
        const std::string text = slurp(root / file);

        for (const Fact &f : facts) {
            if (f.homes.count(file) ||
                text.find(f.needle) == std::string::npos) {
                continue;
            }
            EXPECT_FALSE(std::regex_search(text, std::regex(f.copy)))
                << file << " holds a copy of " << f.what << ": read it from " << f.owner;
        }
    }
}
