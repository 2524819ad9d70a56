"""Model resolution: `pbrl:<name>` offline models, local folders and hub ids (see `pbrl.models.store`)."""

from pbrl.models.store import PBRL_MODELS, check_manifest, default_cache_dir, resolve_model

__all__ = ["PBRL_MODELS", "check_manifest", "default_cache_dir", "resolve_model"]
