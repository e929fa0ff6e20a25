"""LibNft: an :class:`~.nft.NftRunner` that keeps one libnftables context for the life of the
proxy instead of starting ``nft -f -`` for every sync (a process costs ~7 ms before it has
done anything). Called by :class:`~.backend.NftablesBackend` through the runner seam;
chosen by :func:`.nft.default_runner` when ``libnftables.so.1`` loads.

The context lives on a dedicated worker thread (a one-thread executor): libnftables is not
thread-safe, and its netlink socket talks to the network namespace of the thread that
opened it. Given ``netns``, that thread first enters ``/run/netns/<netns>`` with
``setns(2)`` (through libc: ``os.setns`` needs Python 3.12), which moves that thread alone;
the rest of the process stays where it is. ctypes releases the GIL during the call, so the
event loop keeps running while the kernel commits a transaction. A failed command raises
:class:`kubesvc.errors.InternalError` carrying nft's own message.
"""

from __future__ import annotations

import asyncio
import ctypes
import threading
from concurrent.futures import ThreadPoolExecutor

from kubesvc import errors
from kubesvc.linuxns import enter_netns

LIBRARY = "libnftables.so.1"
NFT_CTX_DEFAULT = 0


class _Lib:
    """The handful of libnftables entry points we call, with their C signatures."""

    def __init__(self, path: str) -> None:
        lib = ctypes.CDLL(path, use_errno=True)
        self.new = lib.nft_ctx_new
        self.new.argtypes = [ctypes.c_uint32]
        self.new.restype = ctypes.c_void_p
        self.free = lib.nft_ctx_free
        self.free.argtypes = [ctypes.c_void_p]
        self.free.restype = None
        self.buffer_output = lib.nft_ctx_buffer_output
        self.buffer_error = lib.nft_ctx_buffer_error
        for fn in (self.buffer_output, self.buffer_error):
            fn.argtypes = [ctypes.c_void_p]
            fn.restype = ctypes.c_int
        self.run_cmd = lib.nft_run_cmd_from_buffer
        self.run_cmd.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
        self.run_cmd.restype = ctypes.c_int
        self.output = lib.nft_ctx_get_output_buffer
        self.error = lib.nft_ctx_get_error_buffer
        for fn in (self.output, self.error):
            fn.argtypes = [ctypes.c_void_p]
            fn.restype = ctypes.c_char_p


_loaded: dict[str, _Lib | str] = {}
_load_lock = threading.Lock()


def load(path: str = LIBRARY) -> _Lib:
    """libnftables, loaded once per process; raises ``OSError`` when it cannot be."""
    with _load_lock:
        got = _loaded.get(path)
        if got is None:
            try:
                got = _Lib(path)
            except (OSError, AttributeError) as exc:
                got = f"{path}: {exc}"
            _loaded[path] = got
    if isinstance(got, str):
        raise OSError(got)
    return got


def available(path: str = LIBRARY) -> bool:
    try:
        load(path)
    except OSError:
        return False
    return True


class LibNft:
    """One libnftables context on one worker thread (in ``netns`` when given)."""

    def __init__(self, *, netns: str = "", library: str = LIBRARY) -> None:
        self.netns = netns
        self._lib = load(library)
        self._ctx: int | None = None
        self._init_error: BaseException | None = None
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="libnft",
                                        initializer=self._init_thread)

    def _init_thread(self) -> None:
        # Runs on the worker thread before any command: its namespace, then its context.
        try:
            if self.netns:
                enter_netns(self.netns)
            ctx = self._lib.new(NFT_CTX_DEFAULT)
            if not ctx:
                raise OSError("nft_ctx_new failed")
            if self._lib.buffer_output(ctx) != 0 or self._lib.buffer_error(ctx) != 0:
                self._lib.free(ctx)
                raise OSError("nft_ctx_buffer_output/error failed")
            self._ctx = ctx
        except BaseException as exc:  # reported by every call instead of a broken pool
            self._init_error = exc

    def _run_sync(self, text: str) -> tuple[int, str, str]:
        if self._init_error is not None:
            raise errors.InternalError(f"libnftables in netns {self.netns or '(own)'}: "
                                       f"{self._init_error}")
        ctx = self._ctx
        assert ctx is not None
        rc = self._lib.run_cmd(ctx, text.encode())
        # Reading a buffer also empties it for the next command.
        out = (self._lib.output(ctx) or b"").decode(errors="replace")
        err = (self._lib.error(ctx) or b"").decode(errors="replace")
        return rc, out, err

    async def _call(self, text: str) -> tuple[int, str, str]:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._pool, self._run_sync, text)
        except RuntimeError as exc:  # the executor was shut down by close()
            raise errors.InternalError(f"libnftables runner closed: {exc}") from exc

    async def apply(self, text: str) -> None:
        rc, _, err = await self._call(text)
        if rc != 0:
            raise errors.InternalError(f"nft -f failed: {err.strip()}")

    async def run(self, *args: str) -> str:
        rc, out, err = await self._call(" ".join(args))
        if rc != 0:
            raise errors.InternalError(f"nft {' '.join(args)}: {err.strip()}")
        return out

    def _free(self) -> None:
        if self._ctx is not None:
            self._lib.free(self._ctx)
            self._ctx = None

    async def close(self) -> None:
        """Free the context and stop the worker thread (idempotent)."""
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self._pool, self._free)
        except RuntimeError:
            return  # already closed
        self._pool.shutdown(wait=False)
