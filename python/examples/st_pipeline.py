#!/usr/bin/env python3
"""The worked example of docs/python.md: pairs -> embed -> cluster -> plan ->
train with sentence-transformers, with Strata's false-negative mask.

usage: st_pipeline.py --pairs PAIRS.jsonl --model MODEL --out DIR
                      [--batch-size 32] [--k 10] [--steps 100] [--tau 0.02]

MODEL is a sentence-transformers model folder; it embeds the pairs (the
surrogate for clustering and for the mask) and is the model trained.
Writes DIR/plan (a plan `strata train` can read too), DIR/clusters.json
(k-means stats) and DIR/model.
"""
import argparse
import os

import numpy as np
from sentence_transformers import SentenceTransformer, SentenceTransformerTrainingArguments

import strata
from strata.sentence_transformers import MaskedMultipleNegativesRankingLoss, StrataTrainer
from strata.torch import PlanBatchSampler


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pairs", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--tau", type=float, default=0.02)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args(argv)
    os.makedirs(a.out, exist_ok=True)

    # 1. pairs, read as `strata plan` reads them (sources by first appearance)
    queries, positives, sources, names = strata.load_pairs(a.pairs)

    # 2. embed: the model itself is the surrogate (float32, C order, unit rows)
    model = SentenceTransformer(a.model, device="cpu")
    fq = model.encode(queries, batch_size=64, convert_to_numpy=True, normalize_embeddings=True)
    fd = model.encode(positives, batch_size=64, convert_to_numpy=True, normalize_embeddings=True)
    fq, fd = np.ascontiguousarray(fq, np.float32), np.ascontiguousarray(fd, np.float32)

    # 3. cluster the queries within each source (Merrick 2024), every point
    km = strata.Kmeans(fq.shape[1], a.k, niter=25, seed=a.seed)
    km.train(fq, sources=[names[s] for s in sources])
    km.write_stats(os.path.join(a.out, "clusters.json"))

    # 4. plan: one (source, cluster) per batch, no repeated texts in a batch,
    #    and the CDE mask: d_j leaves q_i's softmax when s(q_i,d_j) >= s(q_i,d_i)
    plan = strata.plan(a.batch_size, sources=sources, assign=km.assignments,
                       centroids=km.centroids, queries=queries, positives=positives,
                       filter_q=fq, filter_d=fd, seed=a.seed)
    plan.save(os.path.join(a.out, "plan"))
    print("plan: %d batches of %d, %.2f%% of in-batch negatives masked"
          % (plan.n_batches, plan.batch_size, 100 * plan.masked_fraction))

    # 5. train: the plan's batches through get_batch_sampler, the mask in the loss
    from datasets import Dataset
    sampler = PlanBatchSampler(plan)
    loss = MaskedMultipleNegativesRankingLoss(model, sampler, scale=1.0 / a.tau)
    args = SentenceTransformerTrainingArguments(
        output_dir=os.path.join(a.out, "trainer"), max_steps=a.steps,
        per_device_train_batch_size=a.batch_size, learning_rate=2e-5, warmup_ratio=0.1,
        logging_steps=max(1, a.steps // 10), save_strategy="no", report_to=[], seed=a.seed,
        use_cpu=True)
    trainer = StrataTrainer(model=model, args=args, loss=loss, batch_sampler=sampler,
                            train_dataset=Dataset.from_dict({"anchor": queries,
                                                             "positive": positives}))
    trainer.train()
    model.save(os.path.join(a.out, "model"))
    return trainer


if __name__ == "__main__":
    main()
