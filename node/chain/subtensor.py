"""`SubtensorChain`: the production chain through the bittensor 11 SDK (finney, test, a local node, a URL).

Everything the SDK is asked goes through `_read` or `_write`: bounded retries with exponential backoff
for transient (connection-level) failures, a fresh client after a connection error (a weight write that
lost its connection after sending is not resubmitted: it may have been included), and a clear mapping
of what is left: any read failure becomes `ChainReadError` (never "no commitment"), any rejected write a
`ChainWriteError` subclass. The SDK client is built by an injectable factory, which is how the tests
replace it with a recording stand-in.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from node.chain.base import Chain
from node.chain.errors import (
    ChainError,
    ChainReadError,
    ChainWriteError,
    NotRegisteredError,
    PermissionDeniedError,
    RateLimitedError,
)
from node.chain.retry import RetryPolicy, call_with_retry
from node.chain.types import Commitment, HotkeyWallet, Metagraph, Neuron
from node.chain.weights import quantize_weights

T = TypeVar("T")
log = logging.getLogger(__name__)
NETWORKS = ("finney", "test", "local", "archive")
READ_POLICY = RetryPolicy()
WRITE_POLICY = RetryPolicy(attempts=3, base_delay=2.0)


def is_connection_error(err: BaseException) -> bool:
    """Connection-level failures: worth a reconnect and another try."""
    import bittensor as bt

    if isinstance(err, (bt.RpcConnectionError, bt.ConnectionNotReady, ConnectionError, TimeoutError)):
        return True
    if isinstance(err, (OSError, asyncio.TimeoutError)):
        return True
    # websockets' ConnectionClosed* and similar transport errors, without importing the transport.
    return type(err).__module__.split(".")[0] in ("websockets", "aiohttp", "httpx")


def _write_error(err: BaseException) -> ChainWriteError:
    """Map an SDK write failure to our error types (by the SDK's error code when it has one)."""
    code = str(getattr(getattr(err, "code", None), "value", "") or "")
    message = f"{type(err).__name__}: {err}"
    if code == "rate_limited":
        return RateLimitedError(message)
    if code == "not_registered":
        return NotRegisteredError(message)
    if code in ("not_authorized", "policy_violation"):
        return PermissionDeniedError(message)
    return ChainWriteError(message)


def _amount(value: Any) -> float:
    """A stake as a float in TAO/alpha units (`bittensor.Balance` or a plain number)."""
    return float(getattr(value, "tao", value) or 0.0)


class SubtensorChain(Chain):
    """The subnet `netuid` on a Bittensor network."""

    def __init__(
        self,
        network: str = "finney",
        netuid: int = 29,
        *,
        client_factory: Callable[[], Any] | None = None,
        read_policy: RetryPolicy = READ_POLICY,
        write_policy: RetryPolicy = WRITE_POLICY,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.network = network
        self.netuid = netuid
        self._factory = client_factory or self._default_factory
        self._client_obj: Any = None
        self._read_policy = read_policy
        self._write_policy = write_policy
        self._sleep = sleep
        self.reconnects = 0

    def _default_factory(self) -> Any:
        import bittensor as bt

        return bt.Subtensor(self.network)

    def _client(self) -> Any:
        if self._client_obj is None:
            self._client_obj = self._factory()
        return self._client_obj

    def _reset(self, err: BaseException) -> None:
        """Drop the client after a connection error so the next attempt reconnects."""
        if not is_connection_error(err) or self._client_obj is None:
            return
        with contextlib.suppress(Exception):
            self._client_obj.close()
        self._client_obj = None
        self.reconnects += 1

    def _read(self, what: str, fn: Callable[[Any], T]) -> T:
        try:
            return call_with_retry(
                lambda: fn(self._client()),
                policy=self._read_policy,
                is_transient=is_connection_error,
                what=what,
                sleep=self._sleep,
                on_retry=self._reset,
            )
        except ChainError:
            raise
        except Exception as err:
            raise ChainReadError(f"{what} on {self.network} failed: {type(err).__name__}: {err}") from err

    def _write(self, what: str, fn: Callable[[Any], Any], *, resubmit: bool = True) -> Any:
        """Submit through `fn`. `resubmit=False`: connecting is retried, the submission itself is made once,
        because a connection lost after sending leaves the outcome unknown (the extrinsic may be included):
        the caller looks at the chain before writing again (`validator.weights`), it is never repeated blind."""
        try:
            if resubmit:
                result = call_with_retry(lambda: fn(self._client()), policy=self._write_policy,
                                         is_transient=is_connection_error, what=what, sleep=self._sleep,
                                         on_retry=self._reset)
            else:
                client = call_with_retry(self._client, policy=self._write_policy, is_transient=is_connection_error,
                                         what=f"{what} (connect)", sleep=self._sleep, on_retry=self._reset)
                try:
                    result = fn(client)
                except Exception as err:
                    if not is_connection_error(err):
                        raise
                    self._reset(err)
                    raise ChainWriteError(f"{what}: outcome unknown, not resubmitted "
                                          f"({type(err).__name__}: {err})") from err
            raise_for_failure = getattr(result, "raise_for_failure", None)
            return raise_for_failure() if raise_for_failure is not None else result
        except ChainError:
            raise
        except Exception as err:
            raise _write_error(err) from err

    # -- reads -----------------------------------------------------------------------------------------

    def block(self) -> int:
        return self._read("block", lambda c: int(c.block))

    def block_hash(self, block: int | None = None) -> str:
        def run(c: Any) -> str:
            info = c.block_info(int(c.block) if block is None else block)
            if info is None or not getattr(info, "hash", None):
                raise ChainReadError(f"block {block} has no header on {self.network}")
            return str(info.hash)

        return self._read("block_hash", run)

    def metagraph(self, block: int | None = None) -> Metagraph:
        def run(c: Any) -> Metagraph:
            mg = c.subnets.metagraph(self.netuid, block, commitments=False)
            if mg is None:
                raise ChainReadError(f"subnet {self.netuid} does not exist on {self.network}")
            neurons = tuple(
                Neuron(
                    uid=int(n.uid),
                    hotkey=str(n.hotkey),
                    stake=_amount(n.total_stake),
                    validator_permit=bool(n.validator_permit),
                    last_update=int(n.last_update),
                    coldkey=str(getattr(n, "coldkey", "") or ""),
                )
                for n in mg.neurons
            )
            return Metagraph(self.netuid, int(mg.block), neurons)

        return self._read("metagraph", run)

    def commitments(self, block: int | None = None) -> dict[str, Commitment]:
        def run(c: Any) -> dict[str, Commitment]:
            out: dict[str, Commitment] = {}
            for hotkey, item in dict(c.subnets.commitments(self.netuid, block)).items():
                data = str(getattr(item, "data", "") or "")
                if data and not getattr(item, "encrypted", False):
                    uid = getattr(item, "uid", None)
                    out[str(hotkey)] = Commitment(str(hotkey), data, int(item.block), None if uid is None else int(uid))
            return out

        return self._read("commitments", run)

    def commitment(self, hotkey: str) -> Commitment | None:
        def run(c: Any) -> Commitment | None:
            item = c.identity.commitment(self.netuid, hotkey)
            if item is None or not getattr(item, "data", ""):
                return None
            return Commitment(hotkey, str(item.data), int(item.block))

        return self._read("commitment", run)

    def weights(self) -> dict[int, dict[int, float]]:
        def run(c: Any) -> dict[int, dict[int, float]]:
            rows = c.weights.weights(self.netuid)
            return {int(v): {int(u): float(w) for u, w in row.items()} for v, row in dict(rows).items()}

        return self._read("weights", run)

    # -- writes ----------------------------------------------------------------------------------------

    def commit(self, wallet: HotkeyWallet, data: str) -> int:
        import bittensor as bt

        raw = data.encode()
        info = {"fields": [[{f"Raw{len(raw)}": raw}]]}
        call = bt.calls.Commitments.set_commitment(self.netuid, info)
        self._write("set_commitment", lambda c: c.submit_call(call, wallet, signer="hotkey"))
        return self._block_after_write()

    def set_weights(self, wallet: HotkeyWallet, weights: Mapping[int, float], version_key: int = 0) -> int:
        import bittensor as bt

        quantize_weights(weights)  # same validation as the embedded chain, before any network traffic
        intent = bt.SetWeights(
            netuid=self.netuid, weights={int(u): float(w) for u, w in weights.items()}, version_key=version_key
        )
        self._write("set_weights", lambda c: c.execute(intent, wallet), resubmit=False)
        return self._block_after_write()

    def _block_after_write(self) -> int:
        """The head block right after inclusion; -1 if it cannot be read (the write itself succeeded)."""
        try:
            return self.block()
        except ChainReadError as err:
            log.warning("write included but the head block could not be read: %s", err)
            return -1

    def close(self) -> None:
        if self._client_obj is not None:
            with contextlib.suppress(Exception):
                self._client_obj.close()
            self._client_obj = None
