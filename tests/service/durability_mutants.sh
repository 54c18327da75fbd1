#!/bin/bash
# durability_mutants.sh: the three mutants of issue 15 (drop the temp fsync, drop the
# directory fsync, commit before the rename), each applied to the source, built, run
# against service_durability and reverted (git checkout). Every one must be KILLED.
# Not part of the suite (it edits the tree); run from a clean worktree with ./build.
# applies each mutant, rebuilds, runs service_durability, reverts
cd "$(dirname "$0")/../.."
run() {
  nice ninja -C build -j2 >/dev/null 2>&1 || { echo "$1: BUILD FAILED"; return; }
  if meson test -C build service_durability >/dev/null 2>&1; then echo "$1: SURVIVED"; else
    echo "$1: KILLED ($(grep -E '^FAIL' build/meson-logs/testlog.txt | head -1 | cut -c1-150))"; fi
}
python3 - <<'PY'
p='dicom/dcm_scp.cc'; s=open(p).read()
old="    if (e == 0 && fsync(fd) != 0) e = errno;"
assert old in s; open(p,'w').write(s.replace(old,"    /* MUTANT: no temp fsync */"))
PY
run "M1 drop fsync(temp)"; git checkout dicom/dcm_scp.cc
python3 - <<'PY'
p='daemon/store.c'; s=open(p).read()
old="    if (rename(req->tmp_path, final) != 0 || fsync_dir(dir2) != 0) {"
assert old in s; open(p,'w').write(s.replace(old,"    if (rename(req->tmp_path, final) != 0) { /* MUTANT: no dir fsync */"))
PY
run "M2 drop fsync(dir)"; git checkout daemon/store.c
python3 - <<'PY'
p='daemon/store.c'; s=open(p).read()
a=s.index("    if (rename(req->tmp_path, final) != 0 || fsync_dir(dir2) != 0) {")
b=s.index("    db_rc rc = grouper_add_stored(", a)
c=s.index("grouper_now_ms());", b)+len("grouper_now_ms());")
ren=s[a:b]; add=s[b:c]
s=s[:a]+add+"\n    /* MUTANT: commit before rename */\n"+ren+s[c:]
open(p,'w').write(s)
PY
run "M3 commit before rename"; git checkout daemon/store.c
nice ninja -C build -j2 >/dev/null 2>&1; echo rebuilt
