"""Print the README's settings table from the code (ntrbot.settings.Settings)."""

from ntrbot.settings import setting_help


def table() -> str:
    lines = ["| variable | default | meaning |", "|---|---|---|"]
    for name, (default, meaning) in setting_help().items():
        cell = default.replace("|", "\\|")
        lines.append(f"| `{name}` | {cell} | {meaning} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(table())
