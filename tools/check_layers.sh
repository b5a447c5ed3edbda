#!/bin/sh
# Fails when a folder includes a header from a layer above it
# (DESIGN.md "Layout"): engine -> nothing; wal, lua -> engine;
# tools -> engine, wal; server -> all.
root=${1:-.}
bad=0
check() { # folder, forbidden include prefixes (regex)
  hits=$(grep -rnE "#include *\"($2)/" "$root/$1" --include='*.[ch]' 2>/dev/null)
  if [ -n "$hits" ]; then
    echo "layering violation in $1/:"; echo "$hits"; bad=1
  fi
}
check engine 'server|wal|lua|tools'
check wal 'server|lua|tools'
check lua 'server|wal|tools'
check tools 'server|lua'
[ $bad -eq 0 ] && echo "include layering ok"
exit $bad
