"""Generated docs are committed up to date; contracts are well formed."""
import pytest

from jobs import docs_gen
from jobs.contracts import all_contracts


@pytest.mark.parametrize("name", sorted(docs_gen.GENERATED))
def test_generated_doc_is_current(name):
    committed = (docs_gen.DOCS / name).read_text()
    assert committed == docs_gen.GENERATED[name](), f"docs/{name} is stale: run `python -m jobs.docs_gen`"


def test_every_contract_documents_every_column():
    for (kind, name), contract in all_contracts().items():
        assert contract.description and contract.grain, name
        for col in contract.columns:
            assert col.description, f"{kind} {name}.{col.name} has no description"
        if kind == "table":
            assert set(contract.partition_by) <= set(contract.column_names), name
            assert set(contract.primary_key) <= set(contract.column_names), name
