/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Console output on the virt board's PL011, a small vsnprintf (the subset
 * payloads use: %c %s %d %i %u %x %p, the l/ll/z sizes, width and '0' or
 * '-' flags), and the few string functions the compiler may call even in
 * freestanding code (memset, memcpy).
 */
#include "libpl.h"

#define UART_DR 0x000
#define UART_FR 0x018
#define UART_CR 0x030
#define UART_FR_TXFF (1u << 5)
#define UART_CR_ENABLE 0x301u   /* UARTEN | TXE | RXE */

static bool uart_ready;

static void uart_putc(char c)
{
    if (!uart_ready) {
        /* QEMU sends anyway, but logs a guest error for a disabled UART. */
        mmio_write32(VIRT_UART + UART_CR, UART_CR_ENABLE);
        uart_ready = true;
    }
    while (mmio_read32(VIRT_UART + UART_FR) & UART_FR_TXFF) {
    }
    mmio_write32(VIRT_UART + UART_DR, (u8)c);
}

void puts(const char *s)
{
    while (*s) {
        uart_putc(*s++);
    }
}

void *memset(void *s, int c, size_t n)
{
    u8 *p = s;

    while (n--) {
        *p++ = (u8)c;
    }
    return s;
}

void *memcpy(void *d, const void *s, size_t n)
{
    u8 *dp = d;
    const u8 *sp = s;

    while (n--) {
        *dp++ = *sp++;
    }
    return d;
}

size_t strlen(const char *s)
{
    size_t n = 0;

    while (s[n]) {
        n++;
    }
    return n;
}

int strncmp(const char *a, const char *b, size_t n)
{
    for (; n; n--, a++, b++) {
        if (*a != *b || !*a) {
            return (u8)*a - (u8)*b;
        }
    }
    return 0;
}

/* Decimal, or hexadecimal with a 0x prefix; stops at the first non-digit. */
u64 strtou64(const char *s, const char **end)
{
    u64 v = 0;
    unsigned base = 10, d;

    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s += 2;
    }
    for (;; s++) {
        if (*s >= '0' && *s <= '9') {
            d = *s - '0';
        } else if (base == 16 && *s >= 'a' && *s <= 'f') {
            d = *s - 'a' + 10;
        } else if (base == 16 && *s >= 'A' && *s <= 'F') {
            d = *s - 'A' + 10;
        } else {
            break;
        }
        if (d >= base) {
            break;
        }
        v = v * base + d;
    }
    if (end) {
        *end = s;
    }
    return v;
}

struct out {
    char *buf;
    size_t len, pos;
};

static void out_c(struct out *o, char c)
{
    if (o->pos + 1 < o->len) {
        o->buf[o->pos] = c;
    }
    o->pos++;
}

static void out_num(struct out *o, u64 v, unsigned base, bool neg,
                    unsigned width, char pad, bool left)
{
    char tmp[24];
    unsigned n = 0, len;

    do {
        tmp[n++] = "0123456789abcdef"[v % base];
        v /= base;
    } while (v);
    len = n + (neg ? 1 : 0);
    if (neg && pad == '0') {
        out_c(o, '-');
    }
    for (; !left && width > len; width--) {
        out_c(o, pad);
    }
    if (neg && pad != '0') {
        out_c(o, '-');
    }
    while (n) {
        out_c(o, tmp[--n]);
    }
    for (; left && width > len; width--) {
        out_c(o, ' ');
    }
}

int vsnprintf(char *buf, size_t len, const char *fmt, va_list ap)
{
    struct out o = { buf, len, 0 };

    for (; *fmt; fmt++) {
        unsigned width = 0, lng = 0;
        char pad = ' ';
        bool left = false;
        const char *s;
        size_t slen;
        u64 v;
        long long sv;

        if (*fmt != '%') {
            out_c(&o, *fmt);
            continue;
        }
        fmt++;
        for (;; fmt++) {
            if (*fmt == '0') {
                pad = '0';
            } else if (*fmt == '-') {
                left = true;
            } else {
                break;
            }
        }
        while (*fmt >= '0' && *fmt <= '9') {
            width = width * 10 + (*fmt++ - '0');
        }
        while (*fmt == 'l' || *fmt == 'z') {
            lng++;
            fmt++;
        }
        switch (*fmt) {
        case 'c':
            out_c(&o, (char)va_arg(ap, int));
            break;
        case 's':
            s = va_arg(ap, const char *);
            s = s ? s : "(null)";
            for (slen = strlen(s); !left && width > slen; width--) {
                out_c(&o, ' ');
            }
            while (*s) {
                out_c(&o, *s++);
            }
            for (; left && width > slen; width--) {
                out_c(&o, ' ');
            }
            break;
        case 'd':
        case 'i':
            sv = lng ? va_arg(ap, long long) : va_arg(ap, int);
            out_num(&o, sv < 0 ? -(u64)sv : (u64)sv, 10, sv < 0, width, pad,
                    left);
            break;
        case 'u':
        case 'x':
            v = lng ? va_arg(ap, unsigned long long) : va_arg(ap, unsigned);
            out_num(&o, v, *fmt == 'u' ? 10 : 16, false, width, pad, left);
            break;
        case 'p':
            out_c(&o, '0');
            out_c(&o, 'x');
            out_num(&o, (u64)(uintptr_t)va_arg(ap, void *), 16, false, width,
                    pad, left);
            break;
        case '%':
            out_c(&o, '%');
            break;
        default:
            /* An unknown conversion is a payload bug: show it, not hide it. */
            out_c(&o, '%');
            out_c(&o, *fmt ? *fmt : '?');
            if (!*fmt) {
                fmt--;
            }
            break;
        }
    }
    if (len) {
        buf[o.pos < len ? o.pos : len - 1] = '\0';
    }
    return (int)o.pos;
}

int snprintf(char *buf, size_t len, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(buf, len, fmt, ap);
    va_end(ap);
    return n;
}

int printf(const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    puts(buf);
    return n;
}
