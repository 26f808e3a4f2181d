import pytest

from matting.tables import markdown_table


def test_markdown_table_writes_header_rule_and_rows():
    table = markdown_table(["net", "MSE"], [["coarse", "0.0100"], ["fine", 3]])
    assert table.splitlines() == ["| net | MSE |", "|---|---|", "| coarse | 0.0100 |", "| fine | 3 |"]


def test_markdown_table_refuses_a_row_of_another_length():
    with pytest.raises(ValueError, match="2 cells under a header of 3"):
        markdown_table(["a", "b", "c"], [[1, 2]])
