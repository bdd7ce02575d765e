# Reads a VHD (and, for differencing disks, its parents given after it) through libvhdi and
# prints "<media size> <sha256>": an implementation independent of vmrun.
import hashlib
import sys

import pyvhdi

files = []
for p in sys.argv[1:]:
    f = pyvhdi.file()
    f.open(p)
    files.append(f)
for child, parent in zip(files, files[1:]):
    child.set_parent(parent)
top = files[0]
size = top.get_media_size()
h = hashlib.sha256()
off = 0
while off < size:
    n = min(1 << 20, size - off)
    h.update(top.read_buffer_at_offset(n, off))
    off += n
print(size, h.hexdigest())
