"""COMET: a learned translation-quality metric as a cross-lingual semantic reward (extra: pbrl[comet])."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from pbrl.rewards.backends.translators import make_translator
from pbrl.rewards.base import Reward, column, present

MODES = ("qe", "ref")
DEFAULT_MODELS = {"qe": "Unbabel/wmt22-cometkiwi-da", "ref": "Unbabel/wmt22-comet-da"}
# unbabel-comet 2.2.7 pins transformers<5 and numpy<2; its code runs on newer ones (see
# adapt_encoder_outputs), so it is installed without its pins next to the extra's other needs.
INSTALL_HINT = (
    "the comet reward needs unbabel-comet: pip install 'pbrl[comet]' && pip install --no-deps unbabel-comet==2.2.7"
)


class CometReward(Reward):
    """COMET score of the response against the English reference.

    Modes:
    - "qe" (reference-free quality estimation): the response is the source and the English
      reference its "translation" (src=response, mt=reference): a high score says the reference
      is a faithful English rendering of what the response says. Needs a QE model
      (Unbabel/wmt22-cometkiwi-da, gated on the hub: accept its licence; or wmt20-comet-qe-da).
    - "ref" (reference-based): the response is machine-translated into English first
      (src=response, mt=translation, ref=reference). Needs a reference-based model
      (Unbabel/wmt22-comet-da) and a translator (see `TranslationReward`).

    Args:
        mode (str): "qe" (default) or "ref".
        model (str | None): hub id, or a local `.ckpt` path (COMET's `checkpoints/model.ckpt`);
            None = DEFAULT_MODELS[mode].
        translator, translator_model, langs: the English translator for mode="ref" (as in
            `TranslationReward`); `langs` is checked at construction.
        batch_size (int), gpus (int): passed to COMET's `predict` (gpus=0 runs on CPU).
        reference_column (str): the column holding the English reference ("reference").

    Returns None for an empty response or a missing reference (or language, in "ref" mode).
    Raises ImportError with the install command when unbabel-comet is missing.

    Example:
        >>> reward = CometReward(mode="qe")  # downloads Unbabel/wmt22-cometkiwi-da on first use
        >>> reward(completions=["Janet tiene 16 patos.", ""], reference=["Janet has 16 ducks."] * 2, lang=["es"] * 2)
        [<COMET score of the pair>, None]
    """

    name = "comet"

    def __init__(
        self,
        mode: str = "qe",
        model: str | None = None,
        translator="bergamot",
        translator_model: str | None = None,
        langs: list[str] | None = None,
        batch_size: int = 16,
        gpus: int = 0,
        reference_column: str = "reference",
        cache_dir: str | None = None,
    ):
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"unknown comet mode '{mode}'; choose from: {', '.join(MODES)}")
        if importlib.util.find_spec("comet") is None:
            raise ImportError(INSTALL_HINT)
        if batch_size < 1 or gpus < 0:
            raise ValueError(f"comet needs batch_size >= 1 and gpus >= 0, got batch_size={batch_size}, gpus={gpus}")
        self.mode = mode
        self.model = model or DEFAULT_MODELS[mode]
        self.batch_size = int(batch_size)
        self.gpus = int(gpus)
        self.reference_column = reference_column
        self.translator = None
        if mode == "ref":
            self.translator = make_translator(translator, translator_model, cache_dir=cache_dir)
            for lang in langs or []:
                self.translator.check_language(str(lang))
        self._comet = None

    def load(self):
        if self._comet is None:
            from comet import download_model, load_from_checkpoint

            path = Path(self.model).expanduser()
            checkpoint = str(path) if path.is_file() else download_model(self.model)
            self._comet = load_from_checkpoint(checkpoint)
            adapt_encoder_outputs(self._comet)
        return self._comet

    def samples(self, texts: list[str], references: list[str], langs: list[str]) -> list[dict]:
        if self.mode == "qe":
            return [{"src": t, "mt": r} for t, r in zip(texts, references)]
        english = [""] * len(texts)
        for lang in dict.fromkeys(langs):
            idx = [i for i, lg in enumerate(langs) if lg == lang]
            for i, translation in zip(idx, self.translator.translate([texts[i] for i in idx], lang)):
                english[i] = translation
        return [{"src": t, "mt": e, "ref": r} for t, e, r in zip(texts, english, references)]

    def score(self, texts: list[str], columns: dict) -> list[float | None]:
        references = column(columns, self.reference_column, len(texts))
        langs = column(columns, "lang", len(texts))
        idx = [
            i
            for i in range(len(texts))
            if texts[i].strip() and present(references[i]) and (self.mode == "qe" or present(langs[i]))
        ]
        out: list[float | None] = [None] * len(texts)
        if idx:
            samples = self.samples(
                [texts[i] for i in idx], [str(references[i]) for i in idx], [str(langs[i]) for i in idx]
            )
            prediction = self.load().predict(samples, batch_size=self.batch_size, gpus=self.gpus, progress_bar=False)
            for i, value in zip(idx, prediction.scores):
                out[i] = float(value)
        return out

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_comet"] = None
        return state


def adapt_encoder_outputs(comet_model) -> None:
    """Make the Hugging Face encoder inside a COMET model return the 3-tuple COMET unpacks.

    COMET (<= 2.2.7) builds its encoders without a pooling layer and unpacks
    `model(..., output_hidden_states=True, return_dict=False)` as (last_hidden, pooler, hidden_states).
    transformers 4 kept the absent pooler as None in that tuple; transformers 5 drops None entries,
    so the unpacking fails. This instance-level forward asks for the dict and returns the 3-tuple.
    """
    hf_model = getattr(getattr(comet_model, "encoder", None), "model", None)
    if hf_model is None:
        return
    original = hf_model.forward

    def forward(*args, return_dict=None, **kwargs):
        out = original(*args, return_dict=True, **kwargs)
        return out.last_hidden_state, out.get("pooler_output"), out.hidden_states

    hf_model.forward = forward
