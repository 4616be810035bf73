"""Draw the data flow across fjdp's zones into docs/img/flow.png.

    .venv/bin/python docs/figures/flow.py [--out docs/img/flow.png]

(`make figures` runs it.) The picture is the README's: who holds what, and what crosses
each boundary. Boxes are zones (in a deployment, separate hosts and service accounts);
solid arrows are sealed bundles between organisations, dashed ones stay inside the
research environment.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

OUT = Path(__file__).resolve().parents[1] / "img" / "flow.png"

W, H = 3.5, 1.55  # box size in axis units (the axes are 12.6 x 9.5)


@dataclass(frozen=True)
class Zone:
    x: float  # centre
    y: float
    title: str
    lines: tuple[str, ...]
    colour: str


ZONES = {
    "ttp": Zone(
        6.3,
        7.7,
        "TTP zone (trusted third party)",
        ("match File 1 to the spine", "ALF = HMAC(K_ttp, person)"),
        "#f6d7b0",
    ),
    "provider": Zone(
        1.85,
        5.0,
        "Provider zone (Cafcass)",
        ("split: validate, quarantine,", "a random system_id per row"),
        "#d5e8d4",
    ),
    "databank": Zone(
        10.75,
        5.0,
        "Databank zone",
        ("File 2 joined to File 3", "ALF_E = HMAC(K_bank, ALF)"),
        "#cfe2f3",
    ),
    "release": Zone(
        1.85,
        1.3,
        "Release",
        ("a bundle: approved files,", "checks, decisions, SHA256SUMS"),
        "#eeeeee",
    ),
    "checking": Zone(
        6.3,
        1.3,
        "Output checking (portal)",
        ("disclosure checks, then two", "checkers, never the requester"),
        "#e1d5e7",
    ),
    "workspace": Zone(
        10.75,
        1.3,
        "Project workspace (TRE)",
        ("approved columns only", "ALF_PE = HMAC(K_project, ALF_E)"),
        "#dae8fc",
    ),
}

# What each zone sees, under its box: the invariants the tests hold.
SEES = {
    "ttp": "identifiers, never content",
    "provider": "its own extract",
    "databank": "content, never identifiers",
    "workspace": "one project's pseudonyms only",
}


def box(ax: Axes, z: Zone) -> None:
    ax.add_patch(
        FancyBboxPatch(
            (z.x - W / 2, z.y - H / 2),
            W,
            H,
            boxstyle="round,pad=0.02,rounding_size=0.15",
            facecolor=z.colour,
            edgecolor="#333333",
            linewidth=1.2,
        )
    )
    ax.text(z.x, z.y + 0.42, z.title, ha="center", va="center", fontsize=12, weight="bold")
    ax.text(
        z.x, z.y - 0.22, "\n".join(z.lines), ha="center", va="center", fontsize=11, linespacing=1.3
    )


def arrow(
    ax: Axes,
    start: tuple[float, float],
    end: tuple[float, float],
    *,
    sealed: bool,
    rad: float = 0.0,
) -> None:
    ax.add_patch(
        FancyArrowPatch(
            start,
            end,
            arrowstyle="-|>",
            mutation_scale=18,
            linewidth=2.2 if sealed else 1.6,
            linestyle="-" if sealed else (0, (4, 3)),
            color="#b45309" if sealed else "#1f4e79",
            connectionstyle=f"arc3,rad={rad}",
        )
    )


def label(ax: Axes, x: float, y: float, text: str, *, ha: str = "center") -> None:
    ax.text(x, y, text, ha=ha, va="center", fontsize=10.5, linespacing=1.25)


def draw(out: Path) -> None:
    fig, ax = plt.subplots(figsize=(10.5, 7.6))
    ax.set_xlim(0, 12.6)
    ax.set_ylim(-0.55, 9)
    ax.axis("off")
    for z in ZONES.values():
        box(ax, z)
    for key, text in SEES.items():
        z = ZONES[key]
        ax.text(
            z.x, z.y - H / 2 - 0.2, f"sees {text}", ha="center", va="center", fontsize=10,
            style="italic", color="#444444",
        )  # fmt: skip

    p, t, d = ZONES["provider"], ZONES["ttp"], ZONES["databank"]
    w, c, r = ZONES["workspace"], ZONES["checking"], ZONES["release"]
    # Provider -> TTP: File 1; TTP -> databank: File 3; provider -> databank: File 2.
    arrow(ax, (p.x + 0.4, p.y + H / 2 + 0.05), (t.x - W / 2 - 0.05, t.y), sealed=True)
    label(ax, 2.1, 7.45, "File 1\nsystem_id + identifiers")
    arrow(ax, (t.x + W / 2 + 0.05, t.y), (d.x - 0.4, d.y + H / 2 + 0.05), sealed=True)
    label(ax, 10.55, 7.6, "File 3: system_id, ALF,\nlink status, week of birth,\nsex, LSOA")
    arrow(ax, (p.x + W / 2 + 0.05, p.y), (d.x - W / 2 - 0.05, d.y), sealed=True)
    label(ax, 6.3, 5.35, "File 2: system_id + content")
    label(
        ax,
        6.3,
        4.5,
        "cases, orders, health events;\nno names, dates of birth,\naddresses or NHS numbers",
    )
    # Inside the research environment.
    arrow(ax, (d.x, d.y - H / 2 - 0.45), (w.x, w.y + H / 2 + 0.05), sealed=False)
    label(
        ax, d.x - 0.15, 3.15, "provision the scope the\npanel and\ncustodians approved", ha="right"
    )
    arrow(ax, (w.x - W / 2 - 0.05, w.y), (c.x + W / 2 + 0.05, c.y), sealed=False)
    label(ax, 8.5, 2.45, "output request:\nfiles + their checks")
    arrow(ax, (c.x - W / 2 - 0.05, c.y), (r.x + W / 2 + 0.05, r.y), sealed=False)
    label(ax, 4.05, 2.45, "only files both\ncheckers approve")

    # Legend.
    arrow(ax, (0.2, -0.3), (1.0, -0.3), sealed=True)
    label(ax, 1.15, -0.3, "sealed bundle: encrypted to the recipient, signed manifest", ha="left")
    arrow(ax, (7.6, -0.3), (8.4, -0.3), sealed=False)
    label(ax, 8.55, -0.3, "inside the research environment", ha="left")

    fig.tight_layout(pad=0.3)
    out.parent.mkdir(parents=True, exist_ok=True)
    # No software version in the file, so a re-run with the same matplotlib gives the same bytes.
    fig.savefig(out, dpi=110, metadata={"Software": None})
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT, help="where to write the PNG")
    args = parser.parse_args()
    draw(args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
