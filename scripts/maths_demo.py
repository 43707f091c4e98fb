#!/usr/bin/env python3
"""The paper's maths fine-tuning, end to end, at a size that trains on 2 CPU cores.

    python3 scripts/maths_demo.py [--out runs/maths-demo] [--seeds 1,2,3] [--jobs 2]
                                  [--bin build/apps] [--quick]

1. learns a byte-level BPE (scripts/train_bpe.py) on the shipped corpus, data/fortunes.txt;
2. pretrains a small Ouro-shaped chat model (configs/ouro-chat-small.json) on that text,
   each paragraph an assistant turn, at 4 loops, and exports it in the Hugging Face layout
   with its tokenizer (stars-export);
3. writes maths problems in chat form (scripts/maths_chat.py): addition, chain and list_end
   word problems with worked solutions ending in \\boxed{}; training rows, a report set of
   the same difficulties and a harder report set, each from a seed used for nothing else
   (nothing is tuned on them: the demo's settings were fixed before any set was answered);
4. fine-tunes the exported model with configs/ouro-numina.json, the published recipe (only
   the data, the size of a step, the learning rate and the step count are changed), once
   as published (STARS: random loops 1-16, the Jacobian penalty) and once at a fixed depth
   of 4 loops without the penalty, for each seed;
5. answers the report sets at each depth with stars-eval --math and writes report.md:
   accuracy by depth per cell (mean over seeds) and the paired difference STARS minus
   fixed per depth, with a Student t 95% interval over seeds.

Every step is skipped when its output exists, so an interrupted demo continues where it
stopped (a run resumes from its last checkpoint). --quick runs each stage for a few steps
on a few problems, to check the path, not to measure anything.
"""
import argparse
import concurrent.futures as futures
import json
import os
import random
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, ".."))
sys.path.insert(0, HERE)
from paired_stats import mean, t_interval  # noqa: E402

# Training problems and the two report sets (difficulty ranges per task).
TRAIN = {"addition": (1, 3), "chain": (1, 4), "list_end": (1, 3)}
HARD = {"addition": (4, 4), "chain": (5, 6), "list_end": (4, 5)}
# Seeds of the problem sets: each used for this set alone.
SET_SEEDS = {"train": 1101, "test": 3303, "hard": 4404}
CELLS = {
    "stars": [],  # the recipe as published: lognormal loops in [1, 16], penalty 0.1
    "fixed": ["phases.0.loops.sampler=fixed", "phases.0.loops.n=4",
              "phases.0.jacobian_penalty.weight=0"],
}
DEPTHS = "1..8,10,12,16"
EXIT_RULE = "kl:0.01"  # stop a token once its next-token distribution moves < 0.01 nats a loop
TASKS = ("addition", "chain", "list_end")


def run(cmd, log):
    """Runs `cmd`, its output to `log`; stops the demo with the log's tail if it fails."""
    with open(log, "w") as out:
        code = subprocess.call(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT,
                               env=dict(os.environ, OMP_NUM_THREADS="1"))
    if code != 0:
        with open(log) as f:
            tail = f.read()[-3000:]
        sys.exit(f"maths_demo: {' '.join(cmd)} failed (exit {code}); {log}:\n{tail}")


def problem_set(work, name, ranges, n_per_task, answers):
    path = os.path.join(work, f"maths-{name}.jsonl")
    if os.path.exists(path):
        return path
    rows = []
    for i, (task, (lo, hi)) in enumerate(sorted(ranges.items())):
        part = os.path.join(work, f"maths-{name}-{task}.jsonl")
        cmd = [sys.executable, os.path.join(HERE, "maths_chat.py"), "problems", "--task", task,
               "--difficulties", f"{lo}..{hi}", "--n", str(n_per_task),
               "--seed", str(SET_SEEDS[name] * 10 + i), "--out", part]
        run(cmd + (["--answers"] if answers else []), part + ".log")
        with open(part) as f:
            rows += [dict(json.loads(line), task=task) for line in f]
    random.Random(SET_SEEDS[name]).shuffle(rows)
    with open(path + ".tmp", "w") as f:
        f.writelines(json.dumps(r) + "\n" for r in rows)
    os.replace(path + ".tmp", path)
    return path


def prepare(args, work):
    """The tokenizer, the text rows, the pretrained model in the Hugging Face layout, and the
    problem sets; returns the paths of the model directory and the sets."""
    tokenizer = os.path.join(work, "tokenizer.json")
    if not os.path.exists(tokenizer):
        run([sys.executable, os.path.join(HERE, "train_bpe.py"), args.corpus, "--vocab-size",
             str(args.vocab), "--out", tokenizer], os.path.join(work, "tokenizer.log"))
    text = os.path.join(work, "text.jsonl")
    if not os.path.exists(text):
        run([sys.executable, os.path.join(HERE, "maths_chat.py"), "text", args.corpus,
             "--out", text], os.path.join(work, "text.log"))
    pretrain, hf = os.path.join(work, "pretrain"), os.path.join(work, "base-hf")
    if not os.path.exists(os.path.join(pretrain, "model.pt")):
        resume = os.path.exists(os.path.join(pretrain, "config.json"))
        cmd = [os.path.join(args.bin, "stars-train"), "--threads", "1"]
        cmd += (["--resume", pretrain] if resume else
                ["--config", "configs/ouro-chat-small.json", "--out", pretrain,
                 "--set", f"data.train_file={text}", "--set", f"data.tokenizer={tokenizer}",
                 "--set", f"phases.0.steps={args.pretrain_steps}"])
        run(cmd, os.path.join(work, "pretrain.log"))
    if not os.path.exists(os.path.join(hf, "tokenizer.json")):
        run([os.path.join(args.bin, "stars-export"), "--checkpoint", pretrain, "--out", hf],
            os.path.join(work, "export.log"))
    n = args.problems
    sets = {"train": problem_set(work, "train", TRAIN, n, False),
            "test": problem_set(work, "test", TRAIN, args.eval_n, True),
            "hard": problem_set(work, "hard", HARD, args.eval_n, True)}
    return hf, sets


def finetune_and_eval(args, work, hf, sets, cell, seed):
    """One fine-tuning run from the pretrained directory, then its answers on each set."""
    out = os.path.join(work, "runs", f"{cell}-seed{seed}")
    log = out + ".log"
    if not os.path.exists(os.path.join(out, "model.pt")):
        if os.path.exists(os.path.join(out, "config.json")):
            cmd = ["--resume", out]
        else:
            overrides = [f"data.train_file={sets['train']}", "data.valid_fraction=0.01",
                         "data.seq_len=256", "train.precision=fp32", f"train.seed={seed}",
                         f"train.batch={args.batch}", f"train.accumulation={args.accumulation}",
                         "train.eval_every=0", "train.log_every=50", "train.checkpoint_every=250",
                         f"phases.0.steps={args.finetune_steps}", f"phases.0.lr={args.lr}",
                         "phases.0.warmup=50", "eval.depths=4", "eval.n=64", "eval.batch=64"]
            cmd = ["--config", "configs/ouro-numina.json", "--init", hf, "--out", out]
            for o in overrides + CELLS[cell]:
                cmd += ["--set", o]
        run([os.path.join(args.bin, "stars-train"), "--threads", "1"] + cmd, log)
    for name in ("test", "hard"):
        result = os.path.join(work, "evals", f"{cell}-seed{seed}-{name}.json")
        if os.path.exists(result):
            continue
        run([os.path.join(args.bin, "stars-eval"), "--checkpoint", out, "--math", sets[name],
             "--depths", args.depths, "--max-new-tokens", "96", "--batch", "64", "--threads", "1",
             "--out", result + ".tmp", "--predictions", result[:-5] + "-predictions.jsonl"],
            result[:-5] + ".log")
        os.replace(result + ".tmp", result)
    exit_result = os.path.join(work, "evals", f"{cell}-seed{seed}-test-exit.json")
    if not os.path.exists(exit_result):  # each token stops looping on its own, up to the max
        run([os.path.join(args.bin, "stars-eval"), "--checkpoint", out, "--math", sets["test"],
             "--depths", args.depths.split(",")[-1].split("..")[-1], "--exit", EXIT_RULE,
             "--max-new-tokens", "96", "--batch", "64", "--threads", "1",
             "--out", exit_result + ".tmp"], exit_result[:-5] + ".log")
        os.replace(exit_result + ".tmp", exit_result)
    return cell, seed


def accuracy_by_depth(path):
    with open(path) as f:
        return {d["depth"]: d["accuracy"] for d in json.load(f)["depths"]}


def accuracy_by_task(work, cell, seed, set_name):
    """{(depth, task): accuracy} from the predictions file and the tasks of the set's rows."""
    with open(os.path.join(work, f"maths-{set_name}.jsonl")) as f:
        tasks = [json.loads(line)["task"] for line in f]
    correct, total = {}, {}
    path = os.path.join(work, "evals", f"{cell}-seed{seed}-{set_name}-predictions.jsonl")
    with open(path) as f:
        for line in f:
            p = json.loads(line)
            key = (p["depth"], tasks[p["problem"] - 1])
            correct[key] = correct.get(key, 0) + p["correct"]
            total[key] = total.get(key, 0) + 1
    return {k: correct[k] / total[k] for k in total}


def task_report(work, seeds, set_name):
    """Accuracy by task and depth, mean over seeds, each cell on its own row."""
    acc = {(c, s): accuracy_by_task(work, c, s, set_name) for c in CELLS for s in seeds}
    depths = sorted({d for d, _ in acc[("stars", seeds[0])]})
    lines = ["| task | cell | " + " | ".join(str(d) for d in depths) + " |",
             "|---|---|" + "---:|" * len(depths)]
    for task in TASKS:
        for c in CELLS:
            row = [mean([acc[(c, s)][(d, task)] for s in seeds]) for d in depths]
            lines.append(f"| {task} | {c} | " + " | ".join(f"{x:.2f}" for x in row) + " |")
    return "\n".join(lines)


def exit_report(work, seeds):
    """Per-token exit on the report set: accuracy and loops per generated token."""
    lines = ["| cell | accuracy | loops per token | per seed |", "|---|---:|---:|---|"]
    for c in CELLS:
        rows = []
        for s in seeds:
            with open(os.path.join(work, "evals", f"{c}-seed{s}-test-exit.json")) as f:
                rows.append(json.load(f)["depths"][0])
        per_seed = ", ".join(f"{r['accuracy']:.3f}" for r in rows)
        lines.append(f"| {c} | {mean([r['accuracy'] for r in rows]):.3f} | "
                     f"{mean([r['mean_loops'] for r in rows]):.2f} | {per_seed} |")
    return "\n".join(lines)


def report(work, seeds, set_name):
    evals = {(c, s): accuracy_by_depth(os.path.join(work, "evals", f"{c}-seed{s}-{set_name}.json"))
             for c in CELLS for s in seeds}
    depths = sorted(evals[("stars", seeds[0])])
    lines = [f"| depth | fixed (4 loops) | STARS | STARS − fixed | t 95% interval | seeds STARS ahead |",
             "|---:|---:|---:|---:|---|---:|"]
    for d in depths:
        fixed = [evals[("fixed", s)][d] for s in seeds]
        stars = [evals[("stars", s)][d] for s in seeds]
        diffs = [b - a for a, b in zip(fixed, stars)]
        ci = t_interval(diffs) if len(diffs) > 1 else None
        interval = f"[{ci[0]:+.3f}, {ci[1]:+.3f}]" if ci else "n/a (1 seed)"
        ahead = sum(1 for x in diffs if x > 0)
        lines.append(f"| {d} | {mean(fixed):.3f} | {mean(stars):.3f} | {mean(diffs):+.3f} | "
                     f"{interval} | {ahead}/{len(diffs)} |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=os.path.join(ROOT, "runs", "maths-demo"))
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "apps"))
    ap.add_argument("--corpus", default=os.path.join(ROOT, "data", "fortunes.txt"))
    ap.add_argument("--seeds", default="1,2,3")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--vocab", type=int, default=1024)
    ap.add_argument("--pretrain-steps", type=int, default=3000)
    ap.add_argument("--finetune-steps", type=int, default=600)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--accumulation", type=int, default=4)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--problems", type=int, default=6000, help="training problems per task")
    ap.add_argument("--eval-n", type=int, default=100, help="problems per task in each report set")
    ap.add_argument("--depths", default=DEPTHS)
    ap.add_argument("--quick", action="store_true", help="a few steps of each stage")
    args = ap.parse_args()
    if args.quick:
        args.pretrain_steps, args.finetune_steps, args.problems, args.eval_n = 4, 3, 50, 3
        args.vocab, args.depths = 300, "1,4"
    seeds = [int(s) for s in args.seeds.split(",")]
    work = os.path.abspath(args.out)
    os.makedirs(os.path.join(work, "runs"), exist_ok=True)
    os.makedirs(os.path.join(work, "evals"), exist_ok=True)
    for tool in ("stars-train", "stars-eval", "stars-export"):
        if not os.access(os.path.join(args.bin, tool), os.X_OK):
            sys.exit(f"maths_demo: {os.path.join(args.bin, tool)} is missing; bash scripts/build.sh "
                     "builds it (or give --bin DIR)")
    if not os.path.exists(args.corpus):
        sys.exit(f"maths_demo: {args.corpus} is missing; python3 scripts/text_corpus.py builds it")
    hf, sets = prepare(args, work)
    with futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        jobs = [pool.submit(finetune_and_eval, args, work, hf, sets, c, s)
                for s in seeds for c in CELLS]
        for job in futures.as_completed(jobs):
            cell, seed = job.result()
            print(f"maths_demo: {cell} seed {seed} trained and evaluated", flush=True)
    text = ["# Maths fine-tuning at small size: fixed depth against STARS", "",
            f"Seeds {args.seeds}; accuracy is exact match of the boxed answer "
            f"({args.eval_n} problems per task per set).", ""]
    for name, title in (("test", "Report set: the training difficulties"),
                        ("hard", "Harder problems, never trained on")):
        text += [f"## {title}", "", report(work, seeds, name), "",
                 "By task (mean over seeds):", "", task_report(work, seeds, name), ""]
    text += [f"## Per-token exit on the report set ({EXIT_RULE}, at most "
             f"{args.depths.split(',')[-1].split('..')[-1]} loops)", "",
             exit_report(work, seeds), ""]
    with open(os.path.join(work, "report.md"), "w") as f:
        f.write("\n".join(text))
    print("\n".join(text))


if __name__ == "__main__":
    main()
