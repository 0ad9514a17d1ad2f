/* cmd_train.c — `strata train`: contrastive training of a BERT biencoder. */
#include "commands.h"

#include <stdio.h>
#include <string.h>

#include "strata/train.h"

static const char *o_pairs, *o_plan, *o_init, *o_config, *o_vocab, *o_out;
static const char *o_pool, *o_eval_beir, *o_precision, *o_query_prompt, *o_doc_prompt;
static double o_tau, o_lr, o_wd, o_clip;
static int o_symmetric, o_max_len, o_keep, o_chunk, o_resume, o_contextual, o_context_size;
static double o_seq_dropout = -1;
static int64_t o_warmup = -1, o_steps, o_save_every, o_eval_every;

static const cli_opt opts[] = {
    {"pairs", CLI_STRING, &o_pairs, "PAIRS", "training pairs (JSONL/TSV, .gz/.zst)", CLI_REQUIRED},
    {"plan", CLI_STRING, &o_plan, "PLAN_DIR", "batch plan: batches.npy [+ mask.npy], plan.json", CLI_REQUIRED},
    {"init", CLI_STRING, &o_init, "MODEL_DIR", "start from this Hugging Face BERT folder", 0},
    {"config", CLI_STRING, &o_config, "CONFIG.json", "fresh model from this config (with --vocab)", 0},
    {"vocab", CLI_STRING, &o_vocab, "VOCAB", "vocab.txt or tokenizer.json for --config", 0},
    {"out", CLI_STRING, &o_out, "RUN_DIR", "run folder: log.jsonl, checkpoint-STEP/, final/", CLI_REQUIRED},
    {"tau", CLI_DOUBLE, &o_tau, "T", "InfoNCE temperature", CLI_SHOW_DEFAULT},
    {"symmetric", CLI_FLAG, &o_symmetric, NULL, "add the document->query loss (mask transposed)", 0},
    {"pool", CLI_STRING, &o_pool, "cls|mean", "pooling (default: the model's, else mean)", 0},
    {"max-len", CLI_INT, &o_max_len, "N", "tokens per text", CLI_SHOW_DEFAULT},
    {"query-prompt", CLI_STRING, &o_query_prompt, "TEXT",
     "prepended to every query, and saved as the folder's \"query\" prompt (default: the "
     "--init folder's; \"\" none)", 0},
    {"doc-prompt", CLI_STRING, &o_doc_prompt, "TEXT",
     "prepended to every positive, saved as the \"document\" prompt (default: the --init "
     "folder's document/passage/corpus prompt; \"\" none)", 0},
    {"lr", CLI_DOUBLE, &o_lr, "LR", "peak learning rate", CLI_SHOW_DEFAULT},
    {"warmup", CLI_INT64, &o_warmup, "N", "linear warmup steps, shorter than the run (default: a tenth of the steps)", 0},
    {"weight-decay", CLI_DOUBLE, &o_wd, "W", "AdamW decay, not on biases/LayerNorm", CLI_SHOW_DEFAULT},
    {"clip", CLI_DOUBLE, &o_clip, "X", "global gradient-norm clipping, 0 off", CLI_SHOW_DEFAULT},
    {"chunk", CLI_INT, &o_chunk, "C", "GradCache chunk in sequences (default 0: whole batch)", 0},
    {"steps", CLI_INT64, &o_steps, "N", "total steps (default: one pass over the plan)", 0},
    {"save-every", CLI_INT64, &o_save_every, "N", "checkpoint every N steps (default: end only)", 0},
    {"keep-checkpoints", CLI_INT, &o_keep, "N",
     "keep only the newest N checkpoint-STEP/ folders, 0: all", CLI_SHOW_DEFAULT},
    {"eval-beir", CLI_STRING, &o_eval_beir, "DIR", "BEIR folder for NDCG@10 (test split)", 0},
    {"eval-every", CLI_INT64, &o_eval_every, "N", "evaluate every N steps (with --eval-beir)", 0},
    {"resume", CLI_FLAG, &o_resume, NULL, "continue from the latest checkpoint in RUN_DIR", 0},
    {"precision", CLI_STRING, &o_precision, "MODE",
     "matrix products: auto|fp32|bf16 (default auto: bf16 where the CPU and build "
     "have it, else fp32; weights, optimizer, LayerNorm, softmax and loss stay fp32)", 0},
    {"contextual", CLI_FLAG, &o_contextual, NULL,
     "train CDE's two-stage contextual model (docs/contextual.md)", 0},
    {"context-size", CLI_INT, &o_context_size, "J",
     "contextual: context documents per step (default: the plan's batch size)", 0},
    {"seq-dropout", CLI_DOUBLE, &o_seq_dropout, "P",
     "contextual: probability a context slot is the null vector (default 0.005)", 0},
    {0}};

/* The trainer's defaults (strata_train_default_params). */
static void defaults(void) {
    strata_train_params p = strata_train_default_params();
    o_tau = p.tau;
    o_lr = p.lr;
    o_wd = p.weight_decay;
    o_clip = p.clip;
    o_max_len = p.max_len;
    o_warmup = p.warmup;
    o_seq_dropout = p.seq_dropout;
    o_keep = p.keep_checkpoints;
}

static int run(const cli_env *env, int npos, char **pos) {
    (void)npos;
    (void)pos;
    strata_train_params p = strata_train_default_params();
    p.pairs_path = o_pairs;
    p.query_field = env->pairs.query_field;
    p.positive_field = env->pairs.positive_field;
    p.source_field = env->pairs.source_field;
    p.plan_dir = o_plan;
    p.init_dir = o_init;
    p.config_path = o_config;
    p.vocab_path = o_vocab;
    p.out_dir = o_out;
    p.tau = o_tau;
    p.symmetric = o_symmetric;
    p.max_len = o_max_len;
    p.query_prompt = o_query_prompt;
    p.doc_prompt = o_doc_prompt;
    p.lr = o_lr;
    p.warmup = o_warmup;
    p.weight_decay = o_wd;
    p.clip = o_clip;
    p.chunk = o_chunk;
    p.steps = o_steps;
    p.save_every = o_save_every;
    p.keep_checkpoints = o_keep;
    p.eval_beir = o_eval_beir;
    p.eval_every = o_eval_every;
    p.resume = o_resume;
    p.seed = env->seed;
    p.contextual = o_contextual;
    p.context_size = o_context_size;
    p.seq_dropout = o_seq_dropout;
    p.progress = env->progress;
    if (o_pool) {
        if (strcmp(o_pool, "cls") == 0) p.pool = STRATA_POOL_CLS;
        else if (strcmp(o_pool, "mean") == 0) p.pool = STRATA_POOL_MEAN;
        else return cli_usage_error(&cmd_train, "--pool must be cls or mean, not '%s'", o_pool);
    }
    if (!o_init && !(o_config && o_vocab))
        return cli_usage_error(&cmd_train, "give --init MODEL_DIR, or --config CONFIG.json and --vocab VOCAB");
    if (o_init && o_config)
        return cli_usage_error(&cmd_train, "--init and --config exclude each other");
    if (o_init && o_vocab)
        return cli_usage_error(&cmd_train, "--vocab does not apply to --init (the model folder "
                               "has its vocabulary)");
    if (cli_given("steps") && o_steps < 1)
        return cli_usage_error(&cmd_train, "--steps must be >= 1 (leave it out for one pass over "
                               "the plan)");
    if (!o_contextual && (o_context_size || o_seq_dropout != -1))
        return cli_usage_error(&cmd_train, "--context-size and --seq-dropout need --contextual");
    if (o_contextual && o_context_size < 0)
        return cli_usage_error(&cmd_train, "--context-size must be >= 1 (got %d)", o_context_size);
    if (o_contextual && o_seq_dropout != -1 && !(o_seq_dropout >= 0 && o_seq_dropout <= 1))
        return cli_usage_error(&cmd_train, "--seq-dropout must be in [0, 1] (got %g)", o_seq_dropout);
    if (o_contextual && o_pool && strcmp(o_pool, "mean") != 0)
        return cli_usage_error(&cmd_train, "--contextual pools the mean of the text positions");
    if (o_eval_every > 0 && !o_eval_beir)
        return cli_usage_error(&cmd_train, "--eval-every needs --eval-beir");
    if (o_precision && strcmp(o_precision, "int8") == 0)
        return cli_usage_error(&cmd_train, "--precision int8 is for inference; train takes auto, fp32 or bf16");
    if (o_contextual && o_precision && strcmp(o_precision, "fp32") != 0 &&
        strcmp(o_precision, "auto") != 0)
        return cli_usage_error(&cmd_train, "--contextual trains in fp32 only");
    int prc = o_contextual ? CLI_OK : cli_precision(&cmd_train, o_precision, &p.precision);
    if (o_contextual) p.precision = STRATA_PRECISION_FP32;
    if (prc != CLI_OK) return prc;
    strata_error err;
    strata_error_clear(&err);
    if (strata_train_run(&p, &err) != STRATA_OK) return cli_fail(&err);
    cli_progress_done(env);
    cli_info(env, "trained model in %s/final (log: %s/log.jsonl)", o_out, o_out);
    return CLI_OK;
}

const cli_command cmd_train = {
    "train", "train a BERT biencoder with InfoNCE on a batch plan", NULL,
    "Contrastive training: each step takes the next batch of the plan (wrapping "
    "around), embeds queries and positives with one BERT (L2-normalized CLS or mean "
    "pooling; no dropout), and minimizes InfoNCE over in-batch negatives at "
    "temperature --tau, with the plan's mask removing filtered documents from each "
    "query's partition. AdamW (betas 0.9/0.999, eps 1e-8), linear warmup then linear "
    "decay to 0 at --steps, global grad-norm clipping. --chunk enables gradient "
    "caching. Writes RUN_DIR/log.jsonl (one line per step), checkpoint-STEP/ folders "
    "(Hugging Face model + optimizer.safetensors + trainer_state.json, written to a "
    "temporary folder and renamed) and final/. --resume continues bit-exactly from the "
    "latest checkpoint (in the precision it ran in); --steps is then the new total. "
    "--precision bf16 runs every linear layer's products in bf16 with fp32 sums "
    "(oneDNN: AMX or AVX512-BF16), fp32 master weights and AdamW state. --contextual trains CDE's "
    "contextual model instead (a first-stage BERT embeds J of the batch's own documents, "
    "a second-stage BERT reads those vectors before each text; two-stage GradCache with "
    "--chunk; sequence dropout --seq-dropout); --init may then name a BERT folder (copied "
    "into both stages) or a contextual model folder. See docs/contextual.md.",
    opts, run, defaults, 1};
