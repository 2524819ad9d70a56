"""Loading a published dataset from the Hugging Face hub, with errors that say what to do."""

from __future__ import annotations


def load_hub_rows(hub_id: str, config: str | None = None, split: str = "test", data_files=None) -> list[dict]:
    """Rows of `hub_id` (config, split) as plain dicts, via `datasets.load_dataset`."""
    import datasets

    try:
        ds = datasets.load_dataset(hub_id, config, split=split, data_files=data_files)
    except Exception as err:  # the hub raises many types; all mean the same to a user
        what = f"{hub_id}" + (f" config {config}" if config else "") + f" split {split}"
        raise FileNotFoundError(
            f"could not load {what} from the hub ({type(err).__name__}: {str(err).splitlines()[0][:200]}); "
            "check the hub id and network, or set paths.data_root (env PBRL_DATA_ROOT) to a local copy"
        ) from err
    return [dict(row) for row in ds]
