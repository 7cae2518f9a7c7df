import os
import platform
import subprocess
import sys

import pytest

# A table stage's pattern: a large block freed (glibc then raises its mmap threshold), then
# column-sized blocks made and freed with small survivors between them, which pin the heap.
CHURN = """
import sys
from stages.memory import return_freed_memory

def rss_mb():
    return next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmRSS")) // 1024

if sys.argv[1] == "return":
    assert return_freed_memory()
big = b"x" * (30 << 20)
del big
columns, survivors = [], []
for i in range(20):
    columns.append(b"x" * (4 << 20))
    survivors.append(bytes(2000 + i))  # made at run time (a constant would be one shared object)
before = rss_mb()
columns.clear()
print(before - rss_mb())
"""


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the mmap threshold is glibc's")
def test_freed_column_sized_blocks_go_back_to_the_system():
    def given_back(mode: str) -> int:
        out = subprocess.run([sys.executable, "-c", CHURN, mode], capture_output=True, text=True, check=True)
        return int(out.stdout)

    assert given_back("keep") < 20  # glibc's default: the 80 MB stays in the process
    assert given_back("return") >= 70


def test_stage_processes_put_arrow_on_the_system_allocator():
    env = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
    probe = "import stages, pyarrow; print(pyarrow.default_memory_pool().backend_name)"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.strip() == "system"
