"""The start-up baseline: the smallest Textual app shaped like a home screen (Header, DataTable, Footer)."""

from textual.app import App, ComposeResult
from textual.widgets import DataTable, Footer, Header


class MinimalApp(App[None]):
    TITLE = "Minimal baseline"
    BINDINGS = [("ctrl+q", "quit", "Quit")]

    def compose(self) -> ComposeResult:
        yield Header()
        yield DataTable()
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("Incident", "State", "Decision", "Procedure")


if __name__ == "__main__":
    MinimalApp().run()
