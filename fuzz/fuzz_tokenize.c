/*
 * fuzz_tokenize.c — libFuzzer target for `strata tokenize`'s line reader:
 * the input is the --input file (JSONL: a JSON string or an object with a
 * string "text" per line), run through the command itself (cli_dispatch)
 * with a fixed vocabulary, once without truncation and once with
 * --max-len 5.
 *
 * Exit 0 must leave --out with one JSON array per input line; a failure
 * must exit 1 and leave no output file (nor a temporary one) behind.
 */
#include "fuzz_common.h"
#include "../cli/commands.h"

static char g_vocab[1024], g_dir[1024];

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    snprintf(g_dir, sizeof g_dir, "%s", fuzz_subdir("tok"));
    snprintf(g_vocab, sizeof g_vocab, "%s", fuzz_join(g_dir, "vocab.txt"));
    fuzz_write_str(g_vocab, FUZZ_VOCAB);
    return 0;
}

static int count_entries(const char *dir) {
    int n = 0;
    DIR *d = opendir(dir);
    if (!d) abort();
    struct dirent *e;
    while ((e = readdir(d))) n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

/* Lines as strata_lines counts them (plain text only). */
static int64_t count_lines(const uint8_t *data, size_t size) {
    int64_t n = 0;
    for (size_t i = 0; i < size; i++) n += data[i] == '\n';
    return n + (size > 0 && data[size - 1] != '\n');
}

static int compressed(const uint8_t *d, size_t n) {
    return (n >= 2 && d[0] == 0x1f && d[1] == 0x8b) ||
           (n >= 4 && d[0] == 0x28 && d[1] == 0xb5 && d[2] == 0x2f && d[3] == 0xfd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char in[1100], out[1100];
    snprintf(in, sizeof in, "%s/in.jsonl", g_dir);
    snprintf(out, sizeof out, "%s/out.jsonl", g_dir);
    fuzz_write(in, data, size);
    static const char *const max_len[2] = {"0", "5"};
    for (int run = 0; run < 2; run++) {
        unlink(out);
        char *argv[] = {"tokenize", "--vocab", g_vocab, "--input", in, "--out", out,
                        "--max-len", (char *)max_len[run], "--threads", "1", "--quiet", NULL};
        int rc = cli_dispatch(&cmd_tokenize, 12, argv);
        struct stat sb;
        int has_out = stat(out, &sb) == 0;
        if (rc == 0) {
            if (!has_out) __builtin_trap();
            FILE *f = fopen(out, "rb");
            if (!f) abort();
            int64_t lines = 0;
            int c, prev = '\n';
            while ((c = fgetc(f)) != EOF) {
                if (prev == '\n' && c != '[') __builtin_trap();
                lines += c == '\n';
                prev = c;
            }
            fclose(f);
            if (prev != '\n') __builtin_trap();
            if (!compressed(data, size) && lines != count_lines(data, size)) __builtin_trap();
        } else {
            if (rc != 1 || has_out) __builtin_trap();
        }
        if (count_entries(g_dir) != 2 + has_out) __builtin_trap(); /* no temp file left */
    }
    return 0;
}
