/* cmd_tokenize.c — `strata tokenize`: WordPiece token ids of JSONL texts. */
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "commands.h"
#include "strata/encoder.h"
#include "strata/io.h"
#include "strata/json.h"

static const char *o_vocab = NULL;
static const char *o_input = "-";
static const char *o_out = NULL;
static int o_no_special = 0;
static int o_max_len = 0;
static int o_tokens = 0;

static const cli_opt opts[] = {
    {"vocab", CLI_STRING, &o_vocab, "PATH",
     "vocab.txt, tokenizer.json, or a model folder holding one", CLI_REQUIRED},
    {"input", CLI_STRING, &o_input, "PATH",
     "JSONL input (.gz/.zst accepted; default: stdin)", 0},
    {"out", CLI_STRING, &o_out, "PATH", "write here atomically (default: stdout)", 0},
    {"no-special", CLI_FLAG, &o_no_special, NULL, "no [CLS] ... [SEP] around the ids", 0},
    {"max-len", CLI_INT, &o_max_len, "N",
     "truncate to N ids, specials included (default 0: no truncation)", 0},
    {"tokens", CLI_FLAG, &o_tokens, NULL, "write token strings instead of ids", 0},
    {0},
};

/* Extracts the text of one input line: a JSON string, or an object with a
 * string field "text". Returns the cJSON tree (caller deletes) or NULL. */
static cJSON *line_text(const char *line, size_t len, const char **text,
                        size_t *tlen, const char *path, int64_t lineno,
                        strata_error *err) {
    /* length with the NUL (the line reader terminates lines): nothing may
     * follow the string or object */
    cJSON *j = cJSON_ParseWithLengthOpts(line, len + 1, NULL, 1);
    if (!j) {
        strata_error_set(err, STRATA_EFORMAT, "%s:%lld: not valid JSON", path,
                         (long long)lineno);
        return NULL;
    }
    const cJSON *s = j;
    if (cJSON_IsObject(j)) {
        s = cJSON_GetObjectItemCaseSensitive(j, "text");
        if (!s) {
            strata_error_set(err, STRATA_EFORMAT, "%s:%lld: field \"text\" missing", path,
                             (long long)lineno);
            cJSON_Delete(j);
            return NULL;
        }
    }
    if (!cJSON_IsString(s)) {
        strata_error_set(err, STRATA_EFORMAT, "%s:%lld: %s not a string", path,
                         (long long)lineno, s == j ? "line is" : "field \"text\" is");
        cJSON_Delete(j);
        return NULL;
    }
    if (strata_json_has_nul(line, len, s == j ? NULL : "text")) {
        strata_error_set(err, STRATA_EFORMAT, "%s:%lld: %scontains a NUL character (\\u0000)",
                         path, (long long)lineno, s == j ? "" : "field \"text\": ");
        cJSON_Delete(j);
        return NULL;
    }
    *text = s->valuestring;
    *tlen = strlen(s->valuestring);
    return j;
}

/* Writes one token string as a JSON string. */
static void put_json_string(FILE *fp, const char *s) {
    fputc('"', fp);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') fprintf(fp, "\\%c", *p);
        else if (*p < 0x20) fprintf(fp, "\\u%04x", *p);
        else fputc(*p, fp);
    }
    fputc('"', fp);
}

static int run(const cli_env *env, int npos, char **pos) {
    (void)npos;
    (void)pos;
    if (o_max_len < 0) return cli_usage_error(&cmd_tokenize, "--max-len must be >= 0");
    if (o_max_len > 0 && o_max_len < (o_no_special ? 1 : 2))
        return cli_usage_error(&cmd_tokenize, "--max-len must be >= 2 with special tokens");
    strata_error err;
    strata_error_clear(&err);
    strata_tokenizer *tok = NULL;
    strata_lines *lines = NULL;
    strata_atomic out = {0};
    FILE *fp = stdout;
    int rc = CLI_OK;
    if (strata_tokenizer_load(&tok, o_vocab, NULL, &err)) return cli_fail(&err);
    if (strata_lines_open(&lines, o_input, 0, &err)) {
        rc = cli_fail(&err);
        goto done;
    }
    if (o_out) {
        if (strata_atomic_open(&out, o_out, &err)) {
            rc = cli_fail(&err);
            goto done;
        }
        fp = out.fp;
    }
    const char *line;
    size_t len;
    int r;
    int64_t n = 0;
    while ((r = strata_lines_next(lines, &line, &len, &err)) == 1) {
        int64_t ln = strata_lines_lineno(lines);
        const char *text;
        size_t tlen;
        cJSON *j = line_text(line, len, &text, &tlen, strata_lines_path(lines), ln, &err);
        if (!j) {
            rc = cli_fail(&err);
            goto done;
        }
        int32_t *ids;
        int k;
        strata_status st = strata_tokenizer_encode_alloc(tok, text, tlen, !o_no_special,
                                                         o_max_len, &ids, &k, &err);
        cJSON_Delete(j);
        if (st) {
            strata_error_prefix(&err, "%s:%lld", strata_lines_path(lines), (long long)ln);
            rc = cli_fail(&err);
            goto done;
        }
        fputc('[', fp);
        for (int i = 0; i < k; i++) {
            if (i) fputc(',', fp);
            if (o_tokens) put_json_string(fp, strata_tokenizer_token(tok, ids[i]));
            else fprintf(fp, "%d", ids[i]);
        }
        fputs("]\n", fp);
        strata_free(ids);
        n++;
    }
    if (r < 0) {
        rc = cli_fail(&err);
        goto done;
    }
    if (o_out && strata_atomic_commit(&out, &err)) {
        rc = cli_fail(&err);
        goto done;
    }
    if (o_out) cli_info(env, "tokenized %lld texts into %s", (long long)n, o_out);
    fflush(stdout);
done:
    if (o_out) strata_atomic_abort(&out);
    strata_lines_close(lines);
    strata_tokenizer_free(tok);
    return rc;
}

const cli_command cmd_tokenize = {
    "tokenize",
    "WordPiece token ids of texts (one JSON array per input line)",
    NULL,
    "Reads JSONL from --input or stdin, each line a JSON string or an object "
    "with a string field \"text\", and writes one JSON array of token ids per "
    "line (equal to Hugging Face's BertTokenizer on the same vocabulary). "
    "--vocab takes vocab.txt, tokenizer.json (its normalizer flags are "
    "honoured) or a model folder. Invalid UTF-8 or JSON stops with an error "
    "naming file and line, and with --out no file is left behind.",
    opts,
    run,
    NULL,
    0,
};
