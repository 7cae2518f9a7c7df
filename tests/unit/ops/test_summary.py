"""The summary's portfolio table: the best candidates on the held-out rows, the chosen one marked, the rest
pointed to."""

from pathlib import Path

from rich.console import Console

from millrace.ops.summary import LEADERBOARD_ROWS, leaderboard_table


def rendered(table) -> str:
    console = Console(width=160, record=True)
    console.print(table)
    return console.export_text()


def test_the_leaderboard_shows_the_best_candidates_and_says_where_the_rest_are():
    board = [{"candidate": "linear#1", "score": 0.9937, "error": 0.0038, "loss": 0.04, "verdict": "**chosen**"}]
    board += [
        {"candidate": f"lightgbm#{i}", "score": 0.99 - i / 100, "error": 0.004, "loss": 0.05, "verdict": "lower"}
        for i in range(1, 10)
    ]
    board.append({"candidate": "catboost#3", "score": None, "error": None, "loss": None, "verdict": "not tried"})
    selection = {"held_out": {"metric": "accuracy"}, "leaderboard": board}
    text = rendered(leaderboard_table(selection, Path("reports/selection.md")))
    assert "Portfolio: held-out accuracy" in text and "linear#1" in text and "0.9937" in text and "chosen" in text
    shown = [e["candidate"] for e in board if e["candidate"] in text]
    assert shown == [e["candidate"] for e in board[:LEADERBOARD_ROWS]]
    assert f"{len(board) - LEADERBOARD_ROWS} more in reports/selection.md" in text
