"""The point of the project, checked on what the run produced: four claims, each with its numbers.

Each claim is read from the validator's own state (the same held-out samples for every model of a round) and,
where the miner saw it first, from the miner's commands' output:

1. growth without loss increase: `verify-growth` max |dloss| is 0 for both grown models, and the validator
   measures the untrained grown model (grower) at the incumbent's loss;
2. training lowers the loss: the trained model's loss is below the incumbent's, for the validator and in
   `publish`'s comparison;
3. the copier gets nothing: its model is rejected as a duplicate and has no weight;
4. weights move to the better model: after the first round (the incumbent alone, all the weight) each later
   round gives the trained model more round weight than the incumbent, and its moving average rises while the
   incumbent's falls; the chain holds the validator's weights with the trained model above the incumbent.
"""

from __future__ import annotations

from dataclasses import dataclass

from node.chain.local import LocalChain
from validator.state.queries import ModelLine, StateView, state_file

from .network import VALIDATOR
from .story import Story

GROWTH_TOLERANCE = 1e-6  # relative: fp32 evaluation of a zero-padded growth is exact up to summation order


@dataclass(frozen=True)
class Claim:
    name: str
    ok: bool
    detail: str


def _by_name(story: Story, lines: list[ModelLine]) -> dict[str, ModelLine]:
    names = {hotkey: name for name, hotkey in story.hotkeys.items()}
    return {names[m.hotkey]: m for m in lines if m.hotkey in names}


def check_claims(story: Story) -> list[Claim]:
    with StateView(state_file(story.run.validator_state)) as view:
        history = {block: _by_name(story, view.model_lines(block)) for block in story.rounds}
    last = history[story.rounds[-1]]
    seed, trainer, grower = (last.get(n) for n in ("seed", "trainer", "grower"))
    miners = story.miners
    claims = []

    dloss = [miners[n].growth_max_dloss for n in ("trainer", "grower")]
    grown_equal = (seed is not None and grower is not None and seed.mean_loss is not None
                   and grower.mean_loss is not None
                   and abs(grower.mean_loss - seed.mean_loss) <= GROWTH_TOLERANCE * abs(seed.mean_loss))
    claims.append(Claim(
        "growth without loss increase", all(d is not None and d == 0 for d in dloss) and grown_equal,
        f"verify-growth max |dloss| trainer {dloss[0]}, grower {dloss[1]} nats; validator: grower "
        f"{_loss(grower)} vs incumbent {_loss(seed)} nats/token (delta {_delta(grower, seed)})"))

    t = miners["trainer"]
    lower = (trainer is not None and seed is not None and None not in (trainer.mean_loss, seed.mean_loss)
             and trainer.mean_loss < seed.mean_loss and t.candidate_loss is not None
             and t.candidate_loss < (t.incumbent_loss or 0))
    claims.append(Claim(
        "training lowers the loss", lower,
        f"validator: trained {_loss(trainer)} vs incumbent {_loss(seed)} nats/token (delta {_delta(trainer, seed)}); "
        f"publish: {t.candidate_loss} vs {t.incumbent_loss}"))

    # A copy rejected as a duplicate counts as evaluated, so the next round need not pick it again: the
    # verdict is the copier's latest appearance, and it must have had nothing in every round.
    seen = [history[b]["copier"] for b in story.rounds if "copier" in history[b]]
    latest = seen[-1] if seen else None
    nothing = (latest is not None and latest.state == "rejected" and latest.reason == "duplicate"
               and not any((c.weight or 0) or (c.ema or 0) for c in seen))
    claims.append(Claim(
        "the copier gets nothing", nothing,
        "copier: " + ("never in a round" if latest is None else
                      f"{latest.state} ({latest.reason}: {latest.message}) in {len(seen)} round(s), "
                      f"weight {max((c.weight or 0) for c in seen):g}, "
                      f"moving average {max((c.ema or 0) for c in seen):g}")))

    claims.append(_weights_claim(story, history))
    return claims


def _weights_claim(story: Story, history: dict[int, dict[str, ModelLine]]) -> Claim:
    def ema(block: int, name: str) -> float:
        line = history[block].get(name)
        return (line.ema or 0.0) if line is not None else 0.0

    def weight(block: int, name: str) -> float:
        line = history[block].get(name)
        return (line.weight or 0.0) if line is not None else 0.0

    first, later = story.rounds[0], story.rounds[1:]
    ok = bool(later) and ema(first, "seed") == 1.0
    previous = first
    for block in later:
        ok = ok and weight(block, "trainer") > weight(block, "seed")
        ok = ok and ema(block, "trainer") > ema(previous, "trainer") and ema(block, "seed") < ema(previous, "seed")
        previous = block
    chain = LocalChain(story.run.chain)
    uids = {n.hotkey: n.uid for n in chain.metagraph().neurons}
    row = chain.weights().get(uids[story.hotkeys[VALIDATOR]], {})
    on_chain = {name: row.get(uids[story.hotkeys[name]], 0.0) for name in ("seed", "trainer", "grower", "copier")}
    ok = ok and on_chain["trainer"] > on_chain["seed"] and on_chain["copier"] == 0.0
    trail = "; ".join(f"round {b}: incumbent {ema(b, 'seed'):.2f} trained {ema(b, 'trainer'):.2f}"
                      for b in story.rounds)
    chain_text = ", ".join(f"{k} {v:.3f}" for k, v in on_chain.items())
    return Claim("weights move to the better model", ok, f"moving average {trail}; on chain: {chain_text}")


def _loss(line: ModelLine | None) -> str:
    return "n/a" if line is None or line.mean_loss is None else f"{line.mean_loss:.6f}"


def _delta(line: ModelLine | None, base: ModelLine | None) -> str:
    if line is None or base is None or line.mean_loss is None or base.mean_loss is None:
        return "n/a"
    return f"{line.mean_loss - base.mean_loss:+.6f}"


def summary_lines(claims: list[Claim]) -> list[str]:
    lines = ["", "What this run shows:"]
    for i, claim in enumerate(claims, 1):
        lines.append(f"  {i}. [{'ok' if claim.ok else 'FAILED'}] {claim.name}: {claim.detail}")
    failed = [c.name for c in claims if not c.ok]
    lines.append("all four hold" if not failed else "FAILED: " + "; ".join(failed))
    return lines

