from collections import Counter

import pytest

from pbrl.data.order import training_order

LANGS = ["de", "fr", "es", "ru", "zh", "ja", "sw", "bn"]


def test_balanced_order_holds_every_language_once_per_block():
    langs = [lang for lang in LANGS for _ in range(6)]  # rows grouped by language, as the pipeline builds them
    order = training_order(langs, seed=0)
    assert sorted(order) == list(range(len(langs)))
    for start in range(0, len(order), len(LANGS)):
        assert sorted(langs[i] for i in order[start : start + len(LANGS)]) == sorted(LANGS)
    assert order != training_order(langs, seed=1)
    assert order == training_order(langs, seed=0)


def test_balanced_order_spends_uneven_languages_to_the_end():
    langs = ["de"] * 5 + ["sw"] * 2
    order = training_order(langs, seed=3)
    assert sorted(order) == list(range(7))
    assert Counter(langs[i] for i in order[:4]) == Counter({"de": 2, "sw": 2})


def test_shuffled_order_is_a_seeded_permutation_and_bad_names_fail():
    langs = [lang for lang in LANGS for _ in range(4)]
    order = training_order(langs, seed=0, order="shuffled")
    assert sorted(order) == list(range(len(langs))) and order != list(range(len(langs)))
    with pytest.raises(ValueError, match="train_order 'random'.*balanced, shuffled"):
        training_order(langs, seed=0, order="random")
