"""A model's registry name: `deploy.model_name`, or `<dataset>-<target>` from every kind of source."""

import pytest

from millrace.config.params import ParamsError
from millrace.release import naming
from tests.helpers.params import parse


@pytest.mark.parametrize(
    ("source", "target", "name"),
    [
        ({"kind": "builtin", "name": "penguins"}, "species", "penguins-species"),
        ({"kind": "file", "path": "data/inputs/Tickets 2024.csv"}, "Priority", "tickets-2024-priority"),
        ({"kind": "file", "path": "data/inputs/shards/*.parquet"}, "y", "shards-y"),
        ({"kind": "url", "url": "https://example.org/d/churn.csv.gz"}, "churned", "churn-churned"),
        ({"kind": "sql", "url": "sqlite:///shop.db", "query": "select * from sales.orders"}, "late", "orders-late"),
        ({"kind": "text", "path": "data/inputs/reviews.jsonl"}, "label", "reviews-label"),
    ],
)
def test_the_default_name_is_the_dataset_and_the_target(source, target, name):
    assert naming.model_name(parse({"data": {"source": source, "target": target}})) == name


def test_a_set_name_wins_and_a_bad_one_is_refused():
    assert naming.model_name(parse({"deploy": {"model_name": "churn-v2"}})) == "churn-v2"
    with pytest.raises(ParamsError, match="deploy.model_name"):
        parse({"deploy": {"model_name": "../elsewhere"}})


def test_a_manifest_names_its_model_or_its_params_do():
    assert naming.of_manifest({"model_name": "mine", "params": {}}) == "mine"
    older = {"params": {"data": {"source": {"kind": "builtin", "name": "wine"}, "target": "class"}, "deploy": {}}}
    assert naming.of_manifest(older) == "wine-class"
