"""Model backends the semantic rewards share: sentence embedders, translators, text caches."""
