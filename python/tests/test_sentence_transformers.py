"""A sentence-transformers v3 training run driven by a Strata plan: the
plan's batches reach the trainer through get_batch_sampler and the plan's
masks reach the loss."""
import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")
st = pytest.importorskip("sentence_transformers")
pytest.importorskip("datasets")
pytest.importorskip("accelerate")

from datasets import Dataset  # noqa: E402
from sentence_transformers import (SentenceTransformer,  # noqa: E402
                                   SentenceTransformerTrainingArguments, losses, models)
from transformers import BertConfig, BertModel, BertTokenizerFast, TrainerCallback  # noqa: E402

import strata  # noqa: E402
from strata.sentence_transformers import (MaskedMultipleNegativesRankingLoss,  # noqa: E402
                                          StrataTrainer)
from strata.torch import PlanBatchSampler  # noqa: E402

WORDS = ("alpha beta gamma delta river mountain city music science history code data "
         "model train query answer paper cat dog tree").split()


@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory):
    """A 2-layer, 32-wide BERT with a word vocabulary, made here (no download)."""
    d = tmp_path_factory.mktemp("tiny-bert")
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + WORDS + [str(i) for i in range(64)]
    with open(d / "vocab.txt", "w") as f:
        f.write("\n".join(vocab) + "\n")
    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2,
                     num_attention_heads=2, intermediate_size=64, max_position_embeddings=64)
    BertModel(cfg).save_pretrained(d)
    BertTokenizerFast(vocab_file=str(d / "vocab.txt")).save_pretrained(d)
    return str(d)


def make_model(path):
    torch.manual_seed(0)
    t = models.Transformer(path, max_seq_length=16)
    return SentenceTransformer(modules=[t, models.Pooling(t.get_word_embedding_dimension(), "mean")],
                               device="cpu")


@pytest.fixture(scope="module")
def pairs():
    rng = np.random.default_rng(0)
    n = 96
    topic = rng.integers(0, 4, n)
    q = ["%s %s %d" % (WORDS[4 * t], WORDS[4 * t + 1], i % 64) for i, t in enumerate(topic)]
    p = ["%s %s %s %d" % (WORDS[4 * t + 2], WORDS[4 * t + 3], WORDS[16 + i % 4], i % 64)
         for i, t in enumerate(topic)]
    return q, p, topic


class Recorder(TrainerCallback):
    """Collects, per optimizer step, the plan batch the loss used and its mask."""

    def __init__(self, loss):
        self.loss, self.steps = loss, []

    def on_step_end(self, args, state, control, **kw):
        assert self.loss.last_lookup == "pair_ids"  # found from the batch's own pair ids
        self.steps.append((self.loss.last_batch, self.loss.last_mask.cpu().numpy().copy()))


def train(model_dir, tmp_path, pl, q, p, steps, scale=50.0):
    model = make_model(model_dir)
    sampler = PlanBatchSampler(pl)
    loss = MaskedMultipleNegativesRankingLoss(model, sampler, scale=scale)
    args = SentenceTransformerTrainingArguments(
        output_dir=str(tmp_path / "out"), max_steps=steps, per_device_train_batch_size=pl.batch_size,
        learning_rate=1e-3, logging_steps=1, save_strategy="no", report_to=[], seed=1,
        use_cpu=True, dataloader_num_workers=0)
    rec = Recorder(loss)
    trainer = StrataTrainer(model=model, args=args,
                            train_dataset=Dataset.from_dict({"anchor": q, "positive": p}),
                            loss=loss, batch_sampler=sampler, callbacks=[rec])
    assert trainer.get_batch_sampler(trainer.train_dataset, 4, False) is sampler
    before = [t.detach().clone() for t in model.parameters()]
    trainer.train()
    changed = any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))
    logged = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    return rec.steps, logged, changed


def test_training_run_consumes_plan_and_mask(tiny_model_dir, tmp_path, pairs):
    q, p, topic = pairs
    # surrogate embeddings: one-hot topic + noise, so same-topic pairs in a
    # batch score close to the positive and get masked
    rng = np.random.default_rng(1)
    f = np.eye(4, dtype=np.float32)[topic] + 0.3 * rng.standard_normal((len(q), 4)).astype(np.float32)
    km = strata.Kmeans(4, 2, seed=1)
    km.train(np.ascontiguousarray(f))
    pl = strata.plan(8, assign=km.assignments, centroids=km.centroids, queries=q, positives=p,
                     filter_q=np.ascontiguousarray(f), filter_d=np.ascontiguousarray(f),
                     margin=0.2, seed=2)
    assert pl.masked_fraction > 0.05
    steps, logged, changed = train(tiny_model_dir, tmp_path, pl, q, p, steps=6)
    assert changed  # it trained
    assert [b for b, _ in steps] == list(range(6))  # the plan's batches, in order
    for b, m in steps:
        assert np.array_equal(m, pl.dense_mask(b))  # and their masks reached the loss
    assert sum(m.sum() for _, m in steps) > 0
    assert len(logged) == 6 and all(np.isfinite(logged))


def test_the_mask_changes_the_loss(tiny_model_dir, tmp_path, pairs):
    """Everything masked (threshold -1: every in-batch negative leaves the
    partition): the loss is exactly 0 at every step; without a mask it is
    not."""
    q, p, _ = pairs
    zeros = np.zeros((len(q), 4), dtype=np.float32)
    zeros[:, 0] = 1
    masked = strata.plan(8, filter_q=zeros, filter_d=zeros, threshold=-1.0, seed=3)
    assert masked.masked_fraction == 1.0
    _, logged, _ = train(tiny_model_dir, tmp_path, masked, q, p, steps=3)
    assert logged == [0.0, 0.0, 0.0]
    plain = strata.plan(8, n=len(q), seed=3)
    _, logged, _ = train(tiny_model_dir, tmp_path, plain, q, p, steps=3)
    assert all(v > 0.1 for v in logged)


def test_same_as_mnrl_without_a_mask(tiny_model_dir, pairs):
    q, p, _ = pairs
    model = make_model(tiny_model_dir)
    pl = strata.plan(8, n=len(q), seed=4)
    sampler = PlanBatchSampler(pl)
    ours = MaskedMultipleNegativesRankingLoss(model, sampler, scale=20.0)
    ref = losses.MultipleNegativesRankingLoss(model, scale=20.0)
    ids = pl.batch(0)
    feats = [model.tokenize([q[i] for i in ids]), model.tokenize([p[i] for i in ids])]
    a = ours(feats, torch.tensor(ids)).item()
    b = ref(feats, None).item()
    assert a == pytest.approx(b, abs=1e-6)


def test_worked_example_runs(tiny_model_dir, tmp_path, pairs):
    """docs/python.md's example (python/examples/st_pipeline.py) end to end."""
    import importlib.util
    import json
    q, p, topic = pairs
    with open(tmp_path / "pairs.jsonl", "w") as f:
        for i in range(len(q)):
            f.write(json.dumps({"query": q[i], "positive": p[i], "source": "s%d" % (i % 2)}) + "\n")
    model = make_model(tiny_model_dir)
    model.save(str(tmp_path / "st-model"))
    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                        "examples", "st_pipeline.py")
    spec = importlib.util.spec_from_file_location("st_pipeline", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    trainer = mod.main(["--pairs", str(tmp_path / "pairs.jsonl"), "--model",
                        str(tmp_path / "st-model"), "--out", str(tmp_path / "run"),
                        "--batch-size", "8", "--k", "3", "--steps", "3"])
    assert trainer.state.global_step == 3
    plan = strata.load_plan(tmp_path / "run" / "plan")
    assert plan.batch_size == 8 and os.path.isdir(tmp_path / "run" / "model")
    assert len(set(plan.batch_source.tolist())) == 2


def test_trainer_resume_continues_with_the_next_plan_batch(tiny_model_dir, tmp_path, pairs):
    """A Trainer resumed from a checkpoint skips the batches it trained on
    (accelerate draws and drops them); the loss still finds each batch it
    computes on by its pair ids, so steps 3, 4, ... use plan batches 2, 3, ...
    with their masks."""
    q, p, topic = pairs
    f = np.ascontiguousarray(np.eye(4, dtype=np.float32)[topic]
                             + 0.3 * np.random.default_rng(1).standard_normal((len(q), 4)).astype(np.float32))
    pl = strata.plan(8, queries=q, positives=p, filter_q=f, filter_d=f, margin=0.2, seed=5)

    def run(max_steps, resume):
        model = make_model(tiny_model_dir)
        sampler = PlanBatchSampler(pl)
        loss = MaskedMultipleNegativesRankingLoss(model, sampler, scale=50.0)
        args = SentenceTransformerTrainingArguments(
            output_dir=str(tmp_path / "ckpt"), max_steps=max_steps, per_device_train_batch_size=8,
            learning_rate=1e-3, save_strategy="steps", save_steps=2, report_to=[], seed=1,
            use_cpu=True, logging_steps=1)
        rec = Recorder(loss)
        StrataTrainer(model=model, args=args, loss=loss, batch_sampler=sampler, callbacks=[rec],
                      train_dataset=Dataset.from_dict({"anchor": q, "positive": p})).train(
                          resume_from_checkpoint=resume)
        return rec.steps

    first = run(2, None)
    assert [b for b, _ in first] == [0, 1]
    resumed = run(4, str(tmp_path / "ckpt" / "checkpoint-2"))
    assert [b for b, _ in resumed] == [2, 3]
    for b, m in resumed:
        assert np.array_equal(m, pl.dense_mask(b))
