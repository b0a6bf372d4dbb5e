"""Benchmark scenarios: named noise mixes, so a search is judged on more than the one mix it was tuned on.

A scenario is data, not code: the share of the pool in each corruption family and trap kind
(`CorruptionRates`), how a few families look (`FamilyStyle`) and a default pool size. The generator in
`generate.py` reads nothing else, so adding a scenario is a few lines in `SCENARIOS`.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from recipelab.data.benchmark.captions import BOILERPLATE_LINES


class CorruptionRates(BaseModel):
    """Fraction of the pool in each corruption family, plus the clean careless-filter traps (`trap_*`).

    The defaults are the `default` scenario's mix (about 49% corrupted, mismatch the largest family).
    """

    mismatch: float = Field(0.15, ge=0, le=1)
    mild_mismatch: float = Field(0.03, ge=0, le=1)
    near_duplicate: float = Field(0.06, ge=0, le=1)
    blur: float = Field(0.05, ge=0, le=1)
    extreme_aspect: float = Field(0.03, ge=0, le=1)
    tiny_image: float = Field(0.025, ge=0, le=1)
    blank_image: float = Field(0.02, ge=0, le=1)
    repetitive_caption: float = Field(0.025, ge=0, le=1)
    special_char_spam: float = Field(0.025, ge=0, le=1)
    short_caption: float = Field(0.025, ge=0, le=1)
    boilerplate_caption: float = Field(0.03, ge=0, le=1)
    gibberish_caption: float = Field(0.02, ge=0, le=1)
    trap_busy_scene: float = Field(0.03, ge=0, le=1)
    trap_small_image: float = Field(0.03, ge=0, le=1)
    trap_terse_caption: float = Field(0.0, ge=0, le=1)

    def families(self) -> dict[str, float]:
        """Corruption family -> rate (traps left out)."""
        return {k: v for k, v in self.model_dump().items() if not k.startswith("trap_")}

    def traps(self) -> dict[str, float]:
        """Trap kind -> rate (the `trap_` prefix dropped)."""
        return {k.removeprefix("trap_"): v for k, v in self.model_dump().items() if k.startswith("trap_")}

    def noise(self) -> float:
        """Total corrupted share (traps are clean, so they do not count)."""
        return sum(self.families().values())

    def scaled(self, factor: float, **override: float) -> CorruptionRates:
        """These rates with every corruption family multiplied by `factor` (traps kept), then `override` set.

        Scaling keeps the families' proportions, which is what "the same mix, less (or more) of it" means.
        """
        data: dict[str, Any] = {k: v * factor for k, v in self.families().items()}
        data.update({f"trap_{k}": v for k, v in self.traps().items()})
        data.update(override)
        return CorruptionRates(**data)

    @model_validator(mode="after")
    def _sums(self) -> CorruptionRates:
        total = sum(self.model_dump().values())
        if total > 0.95:
            raise ValueError(f"corruption + trap rates sum to {total:.3f}; they must leave clean samples (<= 0.95)")
        return self


class FamilyStyle(BaseModel):
    """How a few families look, where a scenario needs them to differ from the default look.

    The defaults reproduce the `default` scenario draw for draw (same random calls, same bytes).
    """

    model_config = ConfigDict(frozen=True)

    #: share of `blur` rows that are low-res (downscaled to ~8-12 px and back: heavy); the rest get a
    #: moderate gaussian blur that overlaps the clean sharpness range.
    lowres_blur_share: float = Field(0.5, ge=0, le=1)
    #: `boilerplate_caption`: how many ad/legal lines are appended to the true caption (inclusive range).
    ad_lines: tuple[int, int] = (3, 6)
    #: `extreme_aspect`: the short side as a fraction of the long one (inclusive range); 0.25-0.32 is an
    #: aspect ratio of 3-4, lower values make thinner strips.
    strip_short_side: tuple[float, float] = (0.25, 0.32)

    @field_validator("ad_lines")
    @classmethod
    def _ad_lines(cls, v: tuple[int, int]) -> tuple[int, int]:
        lo, hi = v
        if not 1 <= lo <= hi <= len(BOILERPLATE_LINES):
            raise ValueError(f"ad_lines must satisfy 1 <= lo <= hi <= {len(BOILERPLATE_LINES)}, got {v}")
        return v

    @field_validator("strip_short_side")
    @classmethod
    def _strip(cls, v: tuple[float, float]) -> tuple[float, float]:
        lo, hi = v
        if not 0.05 <= lo <= hi <= 0.5:
            raise ValueError(f"strip_short_side must satisfy 0.05 <= lo <= hi <= 0.5 (aspect >= 2), got {v}")
        return v


class Scenario(BaseModel):
    """A named benchmark mix: what it tests (`summary`), its rates, the families' look and a pool size."""

    model_config = ConfigDict(frozen=True)

    name: str
    summary: str
    rates: CorruptionRates = Field(default_factory=CorruptionRates)
    style: FamilyStyle = Field(default_factory=FamilyStyle)
    size: int = Field(10000, ge=1)
    #: Eval/test rows include the trap kinds in their share of the pool's clean rows. Without this the
    #: held-out splits hold typical scenes only, so removing the "traps" costs nothing on them and the
    #: strategies that removed them scored far above the oracle (benchmarks/results/oracle_ceiling.md):
    #: they were no traps. With it, a recipe that drops busy scenes or terse captions loses on held-out
    #: rows like them, as a user whose data holds such rows would.
    held_out_traps: bool = False


_DEFAULT = CorruptionRates()

#: Every built-in scenario by name. `recipelab bench make --scenario NAME` and `make_benchmark(scenario=...)`
#: look names up here only.
SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(
            name="default",
            summary="the original mix: about 49% corrupted over twelve families, mismatched captions the largest "
            "(15%), plus 6% clean careless-filter traps",
        ),
        Scenario(
            name="no-mismatch",
            summary="no caption/image mismatch at all (no mismatch, mild_mismatch or gibberish captions): about 45% "
            "corrupted, all of it image, duplicate and text noise, so image-text similarity has little to find",
            rates=CorruptionRates(
                mismatch=0.0,
                mild_mismatch=0.0,
                gibberish_caption=0.0,
                near_duplicate=0.08,
                blur=0.07,
                extreme_aspect=0.05,
                tiny_image=0.04,
                blank_image=0.04,
                repetitive_caption=0.04,
                special_char_spam=0.04,
                short_caption=0.04,
                boilerplate_caption=0.05,
            ),
        ),
        Scenario(
            name="mostly-clean",
            summary="the default families scaled down to 5% noise in total (traps as in default): the best recipe "
            "removes little, so a search that over-filters loses to no filter",
            rates=_DEFAULT.scaled(0.05 / _DEFAULT.noise()),
        ),
        Scenario(
            name="traps",
            summary="28% clean-but-unusual rows (busy scenes with long captions, small sharp images, terse correct "
            "captions) that careless thresholds remove, with moderate noise (the default mix halved, ~25%); the eval "
            "and test splits hold the same kinds in the same share of clean rows, so removing them costs",
            rates=_DEFAULT.scaled(0.5, trap_busy_scene=0.10, trap_small_image=0.10, trap_terse_caption=0.08),
            held_out_traps=True,
        ),
        Scenario(
            name="mixed-6",
            summary="regression case: a 6,000-row pool, 45% corrupted by six kinds of noise - 30% mismatched "
            "captions (not 20%, so a fixed 20% similarity tail is wrong), near-duplicate floods, heavy blur, "
            "captions cut to 1-2 words, one appended ad sentence, images squashed into thin strips - plus 10% "
            "clean-but-unusual rows; the gain needs several ops and a tuned similarity threshold",
            rates=CorruptionRates(
                mismatch=0.30,
                mild_mismatch=0.0,
                near_duplicate=0.05,
                blur=0.04,
                extreme_aspect=0.02,
                tiny_image=0.0,
                blank_image=0.0,
                repetitive_caption=0.0,
                special_char_spam=0.0,
                short_caption=0.02,
                boilerplate_caption=0.02,
                gibberish_caption=0.0,
                trap_busy_scene=0.04,
                trap_small_image=0.03,
                trap_terse_caption=0.03,
            ),
            style=FamilyStyle(lowres_blur_share=1.0, ad_lines=(1, 1), strip_short_side=(0.14, 0.2)),
            size=6000,
        ),
    )
}


def get_scenario(scenario: str | Scenario) -> Scenario:
    """The scenario of that name (a `Scenario` is returned as is); a clear error naming the known ones."""
    if isinstance(scenario, Scenario):
        return scenario
    try:
        return SCENARIOS[scenario]
    except KeyError:
        raise ValueError(f"unknown benchmark scenario {scenario!r}; known: {', '.join(SCENARIOS)}") from None
