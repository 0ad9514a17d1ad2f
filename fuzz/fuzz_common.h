/*
 * fuzz_common.h — shared by the libFuzzer targets.
 *
 * The readers under test take paths, so each target writes its input to
 * files in a per-process scratch folder: $TMPDIR, else /dev/shm (a tmpfs:
 * the atomic writers fsync), else /tmp. The folder is removed at exit.
 *
 * Targets that read several files (a plan folder, a vocabulary and its
 * config) take one input cut into parts at FUZZ_SEP, a line "=====": the
 * seeds show the layout, and the mutator moves bytes between parts freely.
 *
 * Every target checks the library's contract on each input: success leaves
 * a consistent object (checked by reading all of it), failure leaves a
 * non-empty message. A broken contract is __builtin_trap().
 */
#ifndef STRATA_FUZZ_COMMON_H
#define STRATA_FUZZ_COMMON_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "strata/encoder.h"
#include "strata/strata.h"

#define FUZZ_SEP "\n=====\n"

static char fuzz_root_path[512];

static inline void fuzz_rm_tree(const char *path) {
    struct stat sb;
    if (lstat(path, &sb) != 0) return;
    if (S_ISDIR(sb.st_mode)) {
        DIR *d = opendir(path);
        if (d) {
            struct dirent *e;
            while ((e = readdir(d))) {
                if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
                char sub[1024];
                snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
                fuzz_rm_tree(sub);
            }
            closedir(d);
        }
        rmdir(path);
    } else {
        unlink(path);
    }
}

static inline void fuzz_cleanup(void) {
    if (fuzz_root_path[0]) fuzz_rm_tree(fuzz_root_path);
}

/* The per-process scratch folder (created on first use). */
static inline const char *fuzz_root(void) {
    if (fuzz_root_path[0]) return fuzz_root_path;
    const char *t = getenv("TMPDIR");
    struct stat sb;
    if (!(t && *t)) t = stat("/dev/shm", &sb) == 0 && access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(fuzz_root_path, sizeof fuzz_root_path, "%s/strata-fuzz-%ld", t, (long)getpid());
    fuzz_rm_tree(fuzz_root_path);
    if (mkdir(fuzz_root_path, 0700) != 0) abort();
    atexit(fuzz_cleanup);
    return fuzz_root_path;
}

/* "<a>/<b>" in one of 16 rotating static buffers. */
static inline const char *fuzz_join(const char *a, const char *b) {
    static char slots[16][1024];
    static int k;
    char *s = slots[k++ % 16];
    snprintf(s, sizeof slots[0], "%s/%s", a, b);
    return s;
}

/* A sub-folder of the scratch folder (created if missing). */
static inline const char *fuzz_subdir(const char *name) {
    const char *p = fuzz_join(fuzz_root(), name);
    mkdir(p, 0700);
    return p;
}

static inline void fuzz_write(const char *path, const void *data, size_t size) {
    FILE *f = fopen(path, "wb");
    if (!f) abort();
    if (size && fwrite(data, 1, size, f) != size) abort();
    if (fclose(f) != 0) abort();
}

static inline void fuzz_write_str(const char *path, const char *s) {
    fuzz_write(path, s, strlen(s));
}

/* Writes an optional part of the input to path when the input has it
 * (present), else removes path, so no file of an earlier input is left. */
static inline void fuzz_write_part(const char *path, const uint8_t *data, size_t size,
                                   int present) {
    if (present) fuzz_write(path, data, size);
    else unlink(path);
}

/* cp -r src dst (dst must not exist). */
static inline void fuzz_copy_tree(const char *src, const char *dst) {
    struct stat sb;
    if (stat(src, &sb) != 0) abort();
    if (S_ISDIR(sb.st_mode)) {
        if (mkdir(dst, 0700) != 0) abort();
        DIR *d = opendir(src);
        if (!d) abort();
        struct dirent *e;
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            char s[1024], t[1024];
            snprintf(s, sizeof s, "%s/%s", src, e->d_name);
            snprintf(t, sizeof t, "%s/%s", dst, e->d_name);
            fuzz_copy_tree(s, t);
        }
        closedir(d);
        return;
    }
    FILE *in = fopen(src, "rb"), *out = fopen(dst, "wb");
    if (!in || !out) abort();
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        if (fwrite(buf, 1, n, out) != n) abort();
    fclose(in);
    if (fclose(out) != 0) abort();
}

/* Writes data to <scratch>/input<suffix>; returns the path (static). */
static inline const char *fuzz_write_tmp(const uint8_t *data, size_t size, const char *suffix) {
    static char path[1024];
    snprintf(path, sizeof path, "%s/input%s", fuzz_root(), suffix);
    fuzz_write(path, data, size);
    return path;
}

/* Cuts data at each FUZZ_SEP into at most max parts (the last part keeps
 * any further separators). Missing parts are empty. Returns the number of
 * parts present. */
static inline int fuzz_split(const uint8_t *data, size_t size, const uint8_t **part,
                             size_t *len, int max) {
    const size_t sl = sizeof FUZZ_SEP - 1;
    int n = 0;
    const uint8_t *p = data, *end = data + size;
    while (n < max - 1) {
        const uint8_t *s = memmem(p, (size_t)(end - p), FUZZ_SEP, sl);
        if (!s) break;
        part[n] = p;
        len[n++] = (size_t)(s - p);
        p = s + sl;
    }
    part[n] = p;
    len[n++] = (size_t)(end - p);
    for (int i = n; i < max; i++) {
        part[i] = end;
        len[i] = 0;
    }
    return n;
}

/* Cuts data into at most n (<= 8) parts (fuzz_split) and writes part i to
 * dir/names[i]: the first `required` always (empty when the input lacks
 * them), the others when the input has them, else removing the file
 * (fuzz_write_part). Returns the number of parts present. */
static inline int fuzz_write_parts(const char *dir, const uint8_t *data, size_t size,
                                   const char *const *names, int n, int required) {
    const uint8_t *part[8];
    size_t len[8];
    if (n < 1 || n > 8) abort();
    int np = fuzz_split(data, size, part, len, n);
    for (int i = 0; i < n; i++)
        fuzz_write_part(fuzz_join(dir, names[i]), part[i], len[i], i < required || i < np);
    return np;
}

/* A failure must explain itself. */
static inline void fuzz_check_error(strata_status st, const strata_error *err) {
    if (st != STRATA_OK && (err->msg[0] == '\0' || err->status != st)) __builtin_trap();
}

/* A tiny BERT model folder (vocab.txt, config.json, model.safetensors,
 * 1_Pooling/config.json): V = 15 tokens, C = 8, 1 layer, 2 heads, 16
 * positions. */
static const char FUZZ_VOCAB[] =
    "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nalpha\nbeta\ngamma\ndelta\nred\ngreen\nblue\n"
    "##s\n##ing\n.\n";
static const char FUZZ_CONFIG[] =
    "{\"vocab_size\": 15, \"hidden_size\": 8, \"num_hidden_layers\": 1,"
    " \"num_attention_heads\": 2, \"intermediate_size\": 16,"
    " \"max_position_embeddings\": 16, \"type_vocab_size\": 2,"
    " \"model_type\": \"bert\", \"hidden_act\": \"gelu\"}\n";

/* Writes the tiny model into dir (created if missing). */
static inline void fuzz_tiny_model(const char *dir) {
    mkdir(dir, 0700);
    fuzz_write_str(fuzz_join(dir, "vocab.txt"), FUZZ_VOCAB);
    fuzz_write_str(fuzz_join(dir, "config.json"), FUZZ_CONFIG);
    strata_error err;
    strata_bert_config cfg;
    strata_tokenizer *tok = NULL;
    strata_bert *m = NULL;
    if (strata_bert_config_load(&cfg, fuzz_join(dir, "config.json"), &err) ||
        strata_tokenizer_load(&tok, fuzz_join(dir, "vocab.txt"), NULL, &err) ||
        strata_bert_create(&m, &cfg, tok, 1, &err) || strata_bert_save(m, dir, &err)) {
        fprintf(stderr, "fuzz fixture: %s\n", err.msg);
        abort();
    }
    strata_bert_free(m);
}

/* The tiny model in a folder of its own, FUZZ_ROOT/name, without its
 * manifest: read as a Hugging Face folder, so files an input replaces reach
 * their parsers (with the manifest, every changed file fails its size
 * check first). Returns the folder (strdup'd). */
static inline const char *fuzz_tiny_model_unsealed(const char *name) {
    const char *dir = strdup(fuzz_join(fuzz_root(), name));
    fuzz_tiny_model(dir);
    unlink(fuzz_join(dir, "manifest.json"));
    return dir;
}

#endif
