"""Does pbrl score MGSM answers like lm-evaluation-harness? Agreement of per-output correctness.

lm-eval side: its own MGSM native-CoT task files (mgsm_native_cot_<lang>.yaml, read from the
installed lm_eval package): the generation `until` stop strings, then the "flexible-extract" filter
pipeline built by lm_eval.filters.build_filter_ensemble (RegexFilter + take_first), then its
exact_match metric with the task's ignore_case/ignore_punctuation settings.
pbrl side: pbrl.evaluation.score_row (pbrl.answers.extract_answer + answers_match) on the raw text.

Outputs scored: the 8 MGSM exemplar answers in all 11 languages and variants of each (thousands
separators, currency, markdown, native digits, trailing text, no answer phrase, a wrong answer,
`N.0`, locale thousands dots), plus any real generations given with --predictions (JSONL rows
{lang, response, answer}) or produced with --generate MODEL.

lm-eval's rule (last number-like run, punctuation stripped, string equality) is *applicable* when
the final answer is the last number in the output and is an integer in ASCII digits (commas, `$`,
`**`, thousands separators allowed); the agreement target (>= 99 %) is on those. Every disagreement is printed with both readings.

    python benchmarks/lm_eval_agreement.py --data-root /work/shared/data
    python benchmarks/lm_eval_agreement.py --generate pbrl:smollm2-135m-instruct --per-lang 4 --save-generations gen.jsonl
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

import yaml

from pbrl.evaluation import score_row
from pbrl.languages import LANGUAGES, MGSM_LANGUAGES

NATIVE_DIGIT_ZERO = {"bn": 0x09E6, "te": 0x0C66, "th": 0x0E50, "ja": 0xFF10, "zh": 0xFF10}
TARGET_RATE = 0.99


def lm_eval_task(lang: str) -> dict:
    """lm-eval's own task config for MGSM native CoT in `lang` (plain YAML; the `include` adds the metric)."""
    import lm_eval

    folder = Path(lm_eval.__file__).parent / "tasks" / "mgsm" / "native_cot"
    task = yaml.safe_load((folder / f"mgsm_native_cot_{lang}.yaml").read_text(encoding="utf-8"))
    base = yaml.safe_load((folder / "cot_yaml").read_text(encoding="utf-8"))
    return {**base, **task}


class LmEvalScorer:
    """Score a response the way lm-eval's mgsm_native_cot_<lang> task scores it with flexible-extract."""

    def __init__(self, lang: str, filter_name: str = "flexible-extract"):
        from lm_eval.api.metrics import exact_match_hf_evaluate
        from lm_eval.filters import build_filter_ensemble

        task = lm_eval_task(lang)
        steps = next(f["filter"] for f in task["filter_list"] if f["name"] == filter_name)
        self.ensemble = build_filter_ensemble(
            filter_name, [(s["function"], {k: v for k, v in s.items() if k != "function"}) for s in steps]
        )
        self.until = task["generation_kwargs"]["until"]
        metric = next(m for m in task["metric_list"] if m["metric"] == "exact_match")
        self.metric_kwargs = {
            k: v for k, v in metric.items() if k in ("ignore_case", "ignore_punctuation", "regexes_to_ignore")
        }
        self.exact_match = exact_match_hf_evaluate

    def extract(self, response: str) -> str:
        for stop in self.until:  # generation stops at these in lm-eval, before any filter runs
            response = response.split(stop)[0]
        resps = [[response]]
        for make_filter in self.ensemble.filters:
            resps = make_filter().apply(resps, [{}])
        out = list(resps)[0]
        return out[0] if isinstance(out, list) else out

    def correct(self, response: str, target: str) -> tuple[str, bool]:
        pred = self.extract(response)
        return pred, bool(
            self.exact_match(predictions=[pred], references=[target], **self.metric_kwargs)["exact_match"]
        )


def _native(text: str, lang: str) -> str:
    zero = NATIVE_DIGIT_ZERO[lang]
    return re.sub(r"[0-9]", lambda m: chr(zero + int(m.group())), text)


def _phrase_span(text: str, lang: str) -> re.Match | None:
    phrases = [LANGUAGES[lang].answer_phrase, "Die Antwort lautet"]
    matches = [m for p in phrases for m in re.finditer(re.escape(p), text)]
    return max(matches, key=lambda m: m.start()) if matches else None


def exemplar_outputs(data_root: str | Path) -> list[dict]:
    """Realistic outputs from the MGSM exemplars: the original answer and variants, with gold and category."""
    exemplars = json.loads((Path(data_root) / "mgsm" / "mgsm_exemplars.json").read_text(encoding="utf-8"))
    rows = []
    for lang in MGSM_LANGUAGES:
        prefix = LANGUAGES[lang].answer_prefix
        for k, ex in enumerate(exemplars[lang]):
            text = ex["a"][len(prefix) :].strip() if ex["a"].startswith(prefix) else ex["a"]
            n = int(ex["answer_number"])
            span = _phrase_span(text, lang)
            assert span is not None, (lang, k)
            head, tail = text[: span.end()], text[span.end() :]
            tail_n = re.sub(rf"(?<!\d){n}(?!\d)", "{N}", tail, count=1)

            def add(variant, response, gold, applicable=True):
                rows.append(
                    {
                        "id": f"ex-{lang}-{k}-{variant}",
                        "lang": lang,
                        "variant": variant,
                        "response": response,
                        "answer": str(gold),
                        "applicable": applicable,
                    }
                )

            big = n * 1000 + 125
            add("original", text, n)
            add("thousands_comma", head + tail_n.format(N=f"{big:,}"), big)
            add("currency", head + tail_n.format(N=f"${n}"), n)
            add("markdown_bold", head + tail_n.format(N=f"**{n}**"), n)
            add("wrong_answer", head + tail_n.format(N=n + 1), n)
            add("no_phrase", text[: span.start()].strip(), n)
            add("trailing_plain", text + " I hope this helps!", n)
            next_q = exemplars[lang][(k + 1) % len(exemplars[lang])]["q"]
            add("trailing_next_question", text + "\n\n" + next_q, n)
            # lm-eval's rule assumes the answer is the last number; here it is not (pbrl reads the phrase)
            add("trailing_number_sentence", text + " (Checked in 2 steps.)", n, applicable=False)
            add("decimal_zero", head + tail_n.format(N=f"{n}.0"), n, applicable=False)
            if lang in ("de", "es", "fr", "ru"):
                add("locale_thousands_dot", head + tail_n.format(N=f"{big:,}".replace(",", ".")), big)
            if lang in NATIVE_DIGIT_ZERO:
                add("native_digits", _native(text, lang), n, applicable=False)
    return rows


def generated_outputs(model_name: str, data_root, per_lang: int, max_new_tokens: int, batch_size: int) -> list[dict]:
    """Greedy zero-shot MGSM answers of a real model (first `per_lang` problems per language)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from pbrl.data import build_prompt, load_examples
    from pbrl.generation import generate
    from pbrl.models import resolve_model

    path = resolve_model(model_name)
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    examples = [e for exs in load_examples("mgsm", list(MGSM_LANGUAGES), data_root).values() for e in exs[:per_lang]]
    responses = generate(
        model,
        tokenizer,
        [build_prompt(e) for e in examples],
        max_new_tokens=max_new_tokens,
        batch_size=batch_size,
        desc="generate",
    )
    return [
        {
            "id": f"gen-{e.id}-{e.lang}",
            "lang": e.lang,
            "variant": f"model:{model_name}",
            "response": r[0],
            "answer": e.answer,
        }
        for e, r in zip(examples, responses)
    ]


def _lm_eval_applicable(row: dict) -> bool:
    """For real generations: the final number-like run is a plain ASCII integer (lm-eval's rule is meant for those)."""
    runs = re.findall(r"-?[$0-9.,]{2,}|-?[0-9]+", row["response"])
    if not runs:
        return False
    last = runs[-1].strip("$.,")
    return bool(re.fullmatch(r"-?\d{1,3}(,\d{3})*|-?\d+", last))


def compare(rows: list[dict]) -> dict:
    scorers = {lang: LmEvalScorer(lang) for lang in sorted({r["lang"] for r in rows})}
    results = []
    for row in rows:
        lm_pred, lm_correct = scorers[row["lang"]].correct(row["response"], row["answer"])
        ours = score_row({k: row[k] for k in ("lang", "response", "answer")} | {"detected_lang": row["lang"]})
        applicable = row.get("applicable", _lm_eval_applicable(row))
        results.append(
            row
            | {
                "applicable": applicable,
                "lm_eval_pred": lm_pred,
                "lm_eval_correct": lm_correct,
                "pbrl_pred": ours["pred"],
                "pbrl_correct": ours["correct"],
            }
        )
    return {"rows": results}


def report(results: list[dict]) -> float:
    applicable = [r for r in results if r["applicable"]]
    agree = [r for r in applicable if r["lm_eval_correct"] == r["pbrl_correct"]]
    rate = len(agree) / len(applicable) if applicable else float("nan")
    print(f"outputs: {len(results)}; lm-eval rule applicable: {len(applicable)}")
    print(f"agreement on applicable outputs: {len(agree)}/{len(applicable)} = {rate:.2%}")
    by_variant: dict[str, Counter] = defaultdict(Counter)
    for r in results:
        c = by_variant[r["variant"] if not r["variant"].startswith("model:") else "model generations"]
        c["n"] += 1
        c["agree"] += r["lm_eval_correct"] == r["pbrl_correct"]
        c["lm_eval_correct"] += r["lm_eval_correct"]
        c["pbrl_correct"] += r["pbrl_correct"]
    print(f"{'variant':<28}{'n':>5}{'agree':>7}{'lm-eval ok':>11}{'pbrl ok':>9}")
    for variant, c in sorted(by_variant.items()):
        print(f"{variant:<28}{c['n']:>5}{c['agree']:>7}{c['lm_eval_correct']:>11}{c['pbrl_correct']:>9}")
    disagreements = [r for r in results if r["lm_eval_correct"] != r["pbrl_correct"]]
    print(
        f"\ndisagreements: {len(disagreements)} ({sum(r['applicable'] for r in disagreements)} on applicable outputs)"
    )
    for r in disagreements:
        tail = r["response"][-90:].replace("\n", "\\n")
        print(
            f"- [{r['id']}] applicable={r['applicable']} gold={r['answer']} lm-eval={r['lm_eval_pred']!r}({r['lm_eval_correct']}) "
            f"pbrl={r['pbrl_pred']!r}({r['pbrl_correct']}) ...{tail}"
        )
    return rate


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="pbrl vs lm-eval MGSM scoring agreement")
    parser.add_argument("--data-root", default=os.environ.get("PBRL_DATA_ROOT", "../shared/data"))
    parser.add_argument("--predictions", type=Path, help="JSONL of real generations {lang, response, answer}")
    parser.add_argument("--generate", metavar="MODEL", help="also score greedy MGSM answers of this model")
    parser.add_argument("--per-lang", type=int, default=4)
    parser.add_argument("--max-new-tokens", type=int, default=192)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--save-generations", type=Path)
    parser.add_argument("--no-exemplars", action="store_true", help="score only --predictions/--generate outputs")
    args = parser.parse_args(argv)

    import lm_eval

    print(f"lm-eval {lm_eval.__version__ if hasattr(lm_eval, '__version__') else '?'}")
    rows = [] if args.no_exemplars else exemplar_outputs(args.data_root)
    if args.predictions:
        rows += [
            r | {"variant": r.get("variant", "model generations"), "id": r.get("id", f"pred-{i}")}
            for i, r in enumerate(
                json.loads(line) for line in args.predictions.read_text(encoding="utf-8").splitlines() if line.strip()
            )
        ]
    if args.generate:
        generated = generated_outputs(
            args.generate, args.data_root, args.per_lang, args.max_new_tokens, args.batch_size
        )
        if args.save_generations:
            args.save_generations.write_text(
                "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in generated), encoding="utf-8"
            )
        rows += generated
    rate = report(compare(rows)["rows"])
    return 0 if rate >= TARGET_RATE else 1


if __name__ == "__main__":
    sys.exit(main())
