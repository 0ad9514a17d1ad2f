/*
 * ctx_step.c — the contextual model against the biencoder on the same
 * shapes, in alternating rounds (the machine is shared: only ratios measured
 * side by side mean anything):
 *
 *   train   one step (forward + InfoNCE + backward + clipping + AdamW) of
 *           strata_train_batch (biencoder, 2N sequences of T tokens) and of
 *           strata_ctx_train_batch (J = N context documents through M1, the
 *           2N sequences through M2 with J + 8 extra inputs);
 *   embed   B texts of T tokens: strata_bert_forward (biencoder) and
 *           strata_ctx_second_stage (with a fixed E), plus the one-off
 *           strata_ctx_first_stage over the J context documents.
 *
 * Random weights and ids. Built and run by bench/bench_contextual.sh.
 * usage: ctx_step L C H F N T J THREADS ROUNDS   (one JSON line per round)
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "strata/contextual.h"
#include "bench_clock.h"

/* Wall and process CPU time: on a shared machine the CPU time of a
 * one-thread run counts the work done, not the time spent waiting for a
 * core, so its ratios are the ones to read there. */
typedef struct tick { double wall, cpu; } tick;
static tick now(void) {
    return (tick){bench_clock(CLOCK_MONOTONIC), bench_clock(CLOCK_PROCESS_CPUTIME_ID)};
}
#define MS(a, b) 1e3 * ((b).wall - (a).wall), 1e3 * ((b).cpu - (a).cpu)

static void fill_ids(int32_t *ids, int *len, int n, int T, int V, unsigned *s) {
    for (int i = 0; i < n; i++) {
        len[i] = T - (i % 4) * (T / 8); /* some padding, as real batches */
        for (int t = 0; t < T; t++) ids[i * T + t] = t < len[i] ? 1 + (int)(rand_r(s) % (V - 1)) : 0;
    }
}

int main(int argc, char **argv) {
    if (argc != 10) {
        fprintf(stderr, "usage: ctx_step L C H F N T J THREADS ROUNDS\n");
        return 2;
    }
    int L = atoi(argv[1]), C = atoi(argv[2]), H = atoi(argv[3]), F = atoi(argv[4]);
    int N = atoi(argv[5]), T = atoi(argv[6]), J = atoi(argv[7]), threads = atoi(argv[8]);
    int rounds = atoi(argv[9]), V = 30522;
    strata_set_threads(threads);
    strata_ctx_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.bert = (strata_bert_config){.vocab_size = V, .hidden_size = C, .num_layers = L,
                                    .num_heads = H, .intermediate_size = F, .max_position = 512,
                                    .type_vocab_size = 2, .layer_norm_eps = 1e-12f,
                                    .pool = STRATA_POOL_MEAN, .normalize = 1};
    cfg.context_size = J;
    cfg.n_prompt = STRATA_CTX_PROMPT;
    cfg.seq_dropout = 0.005;
    strata_error err;
    strata_ctx_model *cm;
    strata_bert *bm;
    if (strata_ctx_create(&cm, &cfg, NULL, 1, &err) ||
        strata_bert_create(&bm, &cfg.bert, NULL, 1, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    size_t nb = bm->n_params, nc = cm->n_params;
    float *gb = calloc(nb, 4), *mb = calloc(nb, 4), *vb = calloc(nb, 4);
    float *gc = calloc(nc, 4), *mc = calloc(nc, 4), *vc = calloc(nc, 4);
    strata_bert_weights gbw;
    strata_ctx_weights gcw;
    strata_bert_bind(&cfg.bert, gb, &gbw);
    strata_ctx_bind(&cfg, gc, &gcw);
    unsigned seed = 7;
    int32_t *ids = malloc(sizeof(int32_t) * 2 * N * T), *cids = malloc(sizeof(int32_t) * J * T);
    int *len = malloc(sizeof(int) * 2 * N), *clen = malloc(sizeof(int) * J);
    fill_ids(ids, len, 2 * N, T, V, &seed);
    fill_ids(cids, clen, J, T, V, &seed);
    strata_train_ws *bws;
    strata_ctx_ws *cws;
    strata_train_ws_create(&bws, &cfg.bert, &err);
    strata_ctx_ws_create(&cws, &cfg, &err);
    strata_bert_state *bs;
    strata_ctx_state *cs;
    strata_bert_state_create(&bs, &err);
    strata_ctx_state_create(&cs, &err);
    int B = 2 * N;
    float *out = malloc(sizeof(float) * B * C), *E = malloc(sizeof(float) * J * C);
    for (int r = 0; r <= rounds; r++) { /* round 0 warms up */
        strata_infonce_stats st;
        tick t0 = now();
        memset(gb, 0, nb * 4);
        strata_train_batch(bws, &cfg.bert, &bm->w, ids, len, N, T, NULL, 0.02, 0,
                           STRATA_POOL_MEAN, 0, &gbw, &st, &err);
        strata_train_optimizer_step(&cfg.bert, bm->params, gb, mb, vb, 1e-5, 0.01, 1.0, 0.9,
                                    0.999, 1e-8, r + 1);
        tick t1 = now();
        memset(gc, 0, nc * 4);
        strata_ctx_batch b = {.ids = ids, .lengths = len, .N = N, .T = T, .ctx_ids = cids,
                              .ctx_lengths = clen, .Tc = T, .seed = 1, .step = r};
        if (strata_ctx_train_batch(cws, &cfg, &cm->w, &b, 0.02, 0, 0, &gcw, &st, &err)) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
        strata_ctx_optimizer_step(&cfg, cm->params, gc, mc, vc, 1e-5, 0.01, 1.0, 0.9, 0.999,
                                  1e-8, r + 1);
        tick t2 = now();
        strata_bert_forward(bm, bs, ids, len, B, T, out, &err);
        tick t3 = now();
        strata_ctx_first_stage(cm, cs, cids, clen, J, T, E, &err);
        tick t4 = now();
        strata_ctx_second_stage(cm, cs, E, J, ids, len, B, T, out, &err);
        tick t5 = now();
        if (r == 0) continue;
        printf("{\"L\": %d, \"C\": %d, \"N\": %d, \"T\": %d, \"J\": %d, \"threads\": %d,"
               " \"round\": %d, \"train_bi_ms\": %.2f, \"train_bi_cpu_ms\": %.2f,"
               " \"train_ctx_ms\": %.2f, \"train_ctx_cpu_ms\": %.2f,"
               " \"embed_bi_ms\": %.2f, \"embed_bi_cpu_ms\": %.2f,"
               " \"embed_ctx_stage2_ms\": %.2f, \"embed_ctx_stage2_cpu_ms\": %.2f,"
               " \"context_stage1_ms\": %.2f, \"context_stage1_cpu_ms\": %.2f}\n",
               L, C, N, T, J, threads, r, MS(t0, t1), MS(t1, t2), MS(t2, t3), MS(t4, t5),
               MS(t3, t4));
        fflush(stdout);
    }
    strata_train_ws_free(bws);
    strata_ctx_ws_free(cws);
    strata_bert_state_free(bs);
    strata_ctx_state_free(cs);
    strata_ctx_free(cm);
    strata_bert_free(bm);
    free(gb); free(mb); free(vb); free(gc); free(mc); free(vc);
    free(ids); free(cids); free(len); free(clen); free(out); free(E);
    return 0;
}
