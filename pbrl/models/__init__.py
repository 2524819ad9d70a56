"""Model resolution: `pbrl:<name>` offline models, local folders and hub ids (see `pbrl.models.store`)."""

from pbrl.models.manifest import check_manifest
from pbrl.models.store import PBRL_MODELS, default_cache_dir, resolve_model

__all__ = ["PBRL_MODELS", "check_manifest", "default_cache_dir", "resolve_model"]
