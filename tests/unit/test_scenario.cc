// SPDX-License-Identifier: GPL-2.0-or-later
// GoogleTest for hw/memtype/scenario.c: scenario lines expand to every
// combination, and each malformed line gets one clear error.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

#include <unistd.h>

#include "scenario.h"

namespace {

struct Got {
    std::vector<MtScenario> v;
    static int add(void *opaque, const MtScenario *s, unsigned)
    {
        static_cast<Got *>(opaque)->v.push_back(*s);
        return 0;
    }
};

int parse(const char *line, Got &g, std::string &err)
{
    char buf[256] = "";
    int ret = mt_scenario_parse_line(line, "t.scn", 7, Got::add, &g, buf, sizeof(buf));
    err = buf;
    return ret;
}

TEST(Scenario, ExpandsEveryCombination)
{
    Got g;
    std::string err;
    ASSERT_EQ(parse("cpu=max,neoverse-n1 policy=device,any bar=pref "
                    "s1=normal-NC,0x04,255 pattern=str8,dczva touch=first", g, err), 0)
        << err;
    ASSERT_EQ(g.v.size(), 2u * 2 * 3 * 2);
    EXPECT_STREQ(g.v[0].cpu->name, "max");
    EXPECT_EQ(g.v[0].s1_attr, 0x44);
    EXPECT_STREQ(g.v[0].pattern->name, "str8");
    EXPECT_STREQ(g.v[1].pattern->name, "dczva");
    EXPECT_EQ(g.v[2].s1_attr, 0x04);
    EXPECT_EQ(g.v[4].s1_attr, 0xff);
    EXPECT_EQ(g.v.back().policy, MT_POLICY_ANY);
    EXPECT_STREQ(g.v.back().cpu->name, "neoverse-n1");
    EXPECT_TRUE(g.v[0].bar_prefetchable);
}

TEST(Scenario, TouchDefaultsToBoth)
{
    Got g;
    std::string err;
    ASSERT_EQ(parse("cpu=max policy=any bar=nonpref s1=0x44 pattern=str8 # c", g, err), 0);
    ASSERT_EQ(g.v.size(), 2u);
    EXPECT_EQ(g.v[0].touch, MT_TOUCH_FIRST);
    EXPECT_EQ(g.v[1].touch, MT_TOUCH_HIT);
    EXPECT_FALSE(g.v[0].bar_prefetchable);
}

TEST(Scenario, EveryPolicyAndCpuByName)
{
    Got g;
    std::string err;
    ASSERT_EQ(parse("cpu=max,neoverse-n1,cortex-a57 policy=device,prefetchable,any,cacheable "
                    "bar=pref,nonpref s1=0x44 pattern=str8 touch=first", g, err), 0)
        << err;
    ASSERT_EQ(g.v.size(), 3u * 4 * 2);
    EXPECT_EQ(g.v[6].policy, MT_POLICY_CACHEABLE);
    EXPECT_TRUE(g.v[6].bar_prefetchable);
    EXPECT_FALSE(g.v[7].bar_prefetchable);
    EXPECT_STREQ(g.v.back().cpu->name, "cortex-a57");
}

TEST(Scenario, BlankAndCommentLines)
{
    Got g;
    std::string err;
    EXPECT_EQ(parse("", g, err), 0);
    EXPECT_EQ(parse("   # nothing here", g, err), 0);
    EXPECT_TRUE(g.v.empty());
}

struct Bad {
    const char *line;
    const char *message;
};

class ScenarioBad : public ::testing::TestWithParam<Bad> {};

TEST_P(ScenarioBad, OneClearError)
{
    Got g;
    std::string err;
    EXPECT_EQ(parse(GetParam().line, g, err), -1);
    EXPECT_EQ(err.rfind("t.scn:7: ", 0), 0u) << err;
    EXPECT_NE(err.find(GetParam().message), std::string::npos) << err;
    EXPECT_TRUE(g.v.empty());
}

INSTANTIATE_TEST_SUITE_P(Lines, ScenarioBad, ::testing::Values(
    Bad{ "cpu=max policy=any bar=pref s1=0x44 pattern=str8 colour=red", "unknown key 'colour'" },
    Bad{ "cpu=max policy=any bar=pref s1=0x44 pattern=str9", "bad pattern 'str9'" },
    Bad{ "cpu=max policy=sometimes bar=pref s1=0x44 pattern=str8", "bad policy 'sometimes'" },
    Bad{ "cpu=max policy=any bar=pref s1=0x100 pattern=str8", "bad s1 '0x100'" },
    Bad{ "cpu=a53 policy=any bar=pref s1=0x44 pattern=str8", "bad cpu 'a53'" },
    Bad{ "cpu=max policy=any bar=maybe s1=0x44 pattern=str8", "bad bar 'maybe'" },
    Bad{ "cpu=max policy=any bar=pref s1=0x44 pattern=str8 touch=twice", "bad touch 'twice'" },
    Bad{ "cpu=max policy=any bar=pref s1=0x44", "missing key 'pattern'" },
    Bad{ "cpu=max cpu=max policy=any bar=pref s1=0x44 pattern=str8", "given twice" },
    Bad{ "cpu=max policy=any bar=pref s1 pattern=str8", "expected key=value" },
    Bad{ "cpu=max policy= bar=pref s1=0x44 pattern=str8", "no value for 'policy'" },
    Bad{ "cpu=max policy=any bar=pref s1=0x44 pattern=db_dsb port=shuffle",
         "port-mode must be exact, gather or reorder[:SEED], speculate[:SEED] or "
         "reorder+speculate[:SEED], not 'shuffle'" },
    Bad{ "cpu=max policy=any bar=pref s1=0x44 pattern=db_dsb port=reorder:x",
         "port-mode 'reorder:x': its seed must be a number from 0 to 2^64-1, not 'x'" },
    Bad{ "cpu=max policy=any bar=pref s1=0x44 pattern=db_dsb port=reorder:18446744073709551616",
         "its seed must be a number" },
    Bad{ "cpu=max policy=any bar=pref s1=0x44 pattern=db_dsb port=gather:3", "gather takes no seed" },
    Bad{ "cpu=max policy=any bar=pref s1=0x44 pattern=db_dsb trials=0",
         "trials must be a number from 1 to 16, not '0'" },
    Bad{ "cpu=max policy=any bar=pref s1=0x44 pattern=db_dsb trials=17", "not '17'" },
    Bad{ "cpu=max policy=any bar=pref s1=0x44 pattern=str8 trials=4", "trials=4: pattern str8" },
    Bad{ "cpu=max policy=any bar=nonpref s1=0x44 pattern=db_nobarrier",
         "pattern db_nobarrier runs on barlab-nic's push page" }));

TEST(Scenario, PortAndTrials)
{
    Got g;
    std::string err;
    ASSERT_EQ(parse("cpu=max policy=any bar=pref s1=0x44 pattern=db_nobarrier touch=first "
                    "port=exact,reorder:0x10,reorder+speculate:7 trials=8", g, err), 0) << err;
    ASSERT_EQ(g.v.size(), 3u);
    EXPECT_STREQ(g.v[0].port_spec, "exact");
    EXPECT_FALSE(g.v[0].port.gather);
    EXPECT_STREQ(g.v[1].port_spec, "reorder:0x10");
    EXPECT_TRUE(g.v[1].port.reorder);
    EXPECT_FALSE(g.v[1].port.speculate);
    EXPECT_EQ(g.v[1].port.seed, 16u);
    EXPECT_TRUE(g.v[2].port.reorder && g.v[2].port.speculate);
    EXPECT_EQ(g.v[2].port.seed, 7u);
    for (auto &s : g.v) {
        EXPECT_EQ(s.trials, 8u);
    }
    g.v.clear();
    ASSERT_EQ(parse("cpu=max policy=any bar=pref s1=0x44 pattern=str8 touch=first", g, err), 0);
    ASSERT_EQ(g.v.size(), 1u);
    EXPECT_STREQ(g.v[0].port_spec, "gather");
    EXPECT_TRUE(g.v[0].port.gather && !g.v[0].port.reorder);
    EXPECT_EQ(g.v[0].trials, 1u);
}

TEST(ScenarioFile, TheShippedFilesParse)
{
    for (const char *f : { "default.scn", "bar0.scn", "matrix.scn", "matrix-quick.scn" }) {
        std::string path = std::string(SCENARIO_DIR) + "/" + f;
        FILE *fp = fopen(path.c_str(), "r");
        ASSERT_NE(fp, nullptr) << path;
        Got g;
        char err[256] = "";
        EXPECT_EQ(mt_scenario_parse_file(fp, f, Got::add, &g, err, sizeof(err)), 0) << err;
        fclose(fp);
        EXPECT_GT(g.v.size(), 0u);
    }
}

TEST(ScenarioFile, ErrorNamesTheLine)
{
    FILE *fp = tmpfile();
    fputs("# ok\ncpu=max policy=any bar=pref s1=0x44 pattern=str8\nbogus\n", fp);
    rewind(fp);
    Got g;
    char err[256] = "";
    EXPECT_EQ(mt_scenario_parse_file(fp, "f.scn", Got::add, &g, err, sizeof(err)), -1);
    EXPECT_STREQ(err, "f.scn:3: expected key=value, got 'bogus'");
    fclose(fp);
}

// A directory of files for pattern=file:, removed at the end.
struct TempDir {
    std::string path;
    std::vector<std::string> files;
    TempDir()
    {
        char tmpl[] = "/tmp/barlab-scenario-XXXXXX";
        path = mkdtemp(tmpl) ? tmpl : "";
    }
    ~TempDir()
    {
        for (const std::string &f : files) {
            unlink(f.c_str());
        }
        rmdir(path.c_str());
    }
    std::string put(const char *name, const char *text)
    {
        std::string f = path + "/" + name;
        FILE *fp = fopen(f.c_str(), "w");
        EXPECT_NE(fp, nullptr) << f;
        if (fp) {
            fputs(text, fp);
            fclose(fp);
        }
        files.push_back(f);
        return f;
    }
};

int parse_in(const TempDir &d, const char *line, Got &g, std::string &err)
{
    char buf[1024] = "";
    std::string name = d.path + "/t.scn";
    int ret = mt_scenario_parse_line(line, name.c_str(), 3, Got::add, &g, buf, sizeof(buf));
    err = buf;
    return ret;
}

TEST(ScenarioFilePattern, RelativeToTheScenarioFileWithItsDeclaration)
{
    TempDir d;
    d.put("my.S", "// a comment\n  //barlab: unaligned,dczva\npattern:\n    ret\n");
    Got g;
    std::string err;
    ASSERT_EQ(parse_in(d, "cpu=max policy=any bar=pref s1=0x44 pattern=str8,file:my.S "
                          "touch=first", g, err), 0) << err;
    ASSERT_EQ(g.v.size(), 2u);
    EXPECT_STREQ(g.v[0].pattern->name, "str8");
    EXPECT_EQ(g.v[0].pattern_kinds, 0u);
    EXPECT_STREQ(g.v[0].pattern_file, "");
    EXPECT_EQ(g.v[1].pattern, mt_pattern_user());
    EXPECT_EQ(g.v[1].pattern_kinds, MT_USER_UNALIGNED | MT_USER_DCZVA);
    EXPECT_STREQ(g.v[1].pattern_file, "my.S");
    EXPECT_EQ(std::string(g.v[1].pattern_path), d.path + "/my.S");
}

TEST(ScenarioFilePattern, NoDeclarationMeansAnything)
{
    TempDir d;
    d.put("loop.S", "pattern:\n    b pattern\n");
    Got g;
    std::string err;
    ASSERT_EQ(parse_in(d, "cpu=max policy=any bar=pref s1=0x44 pattern=file:loop.S", g, err), 0)
        << err;
    ASSERT_EQ(g.v.size(), 2u);
    EXPECT_EQ(g.v[1].pattern_kinds, 0u);
    EXPECT_STREQ(g.v[1].pattern_file, "loop.S");
}

TEST(ScenarioFilePattern, MissingFileIsOneLineNamingTheScenarioLine)
{
    TempDir d;
    Got g;
    std::string err;
    EXPECT_EQ(parse_in(d, "cpu=max policy=any bar=pref s1=0x44 pattern=file:nope.S", g, err), -1);
    EXPECT_EQ(err, d.path + "/t.scn:3: pattern file 'nope.S' (" + d.path +
                   "/nope.S, relative to the scenario file): No such file or directory");
    EXPECT_EQ(err.find('\n'), std::string::npos);
    EXPECT_TRUE(g.v.empty());
}

TEST(ScenarioFilePattern, BadDeclarationsAndTwoFiles)
{
    TempDir d;
    d.put("a.S", "// barlab: unaligned, sideways\npattern:\n    ret\n");
    d.put("b.S", "pattern:\n    ret\n");
    d.put("c.S", "pattern:\n    ret\n");
    Got g;
    std::string err;
    EXPECT_EQ(parse_in(d, "cpu=max policy=any bar=pref s1=0x44 pattern=file:a.S", g, err), -1);
    EXPECT_EQ(err, d.path + "/t.scn:3: a.S:1: unknown access kind 'sideways' after "
                   "'// barlab:' (aligned, unaligned, dczva, exclusive, atomic)");
    EXPECT_EQ(parse_in(d, "cpu=max policy=any bar=pref s1=0x44 pattern=file:b.S,file:c.S",
                       g, err), -1);
    EXPECT_EQ(err, d.path + "/t.scn:3: one pattern file a line, not 'b.S' and 'c.S'");
    EXPECT_EQ(parse_in(d, "cpu=max policy=any bar=pref s1=0x44 pattern=file:", g, err), -1);
    EXPECT_NE(err.find("pattern=file: needs a file name"), std::string::npos) << err;
    EXPECT_EQ(parse_in(d, "cpu=max policy=any bar=pref s1=0x44 pattern=user", g, err), -1);
    EXPECT_EQ(err, d.path + "/t.scn:3: bad pattern 'user'");
    EXPECT_TRUE(g.v.empty());
}

TEST(ScenarioFilePattern, TheShippedExampleParses)
{
    std::string path = std::string(SCENARIO_DIR) + "/examples/my-stp.scn";
    FILE *fp = fopen(path.c_str(), "r");
    ASSERT_NE(fp, nullptr) << path;
    Got g;
    char err[1024] = "";
    EXPECT_EQ(mt_scenario_parse_file(fp, path.c_str(), Got::add, &g, err, sizeof(err)), 0) << err;
    fclose(fp);
    ASSERT_GT(g.v.size(), 0u);
    EXPECT_EQ(g.v[0].pattern, mt_pattern_user());
    EXPECT_STREQ(g.v[0].pattern_file, "my-stp.S");
}

} // namespace
