#!/bin/sh
# embed.sh NAME FILE: FILE as a C array of its lines (each a string ending
# in "\n", then a null pointer) named NAME, on stdout: how a file the
# binary must have whatever its working directory goes into it (the API's
# OpenAPI document, the default bounce rules).
set -eu
name=$1
file=$2
printf '/* generated from %s by scripts/embed.sh: a line a string */\n' "$file"
printf 'extern const char *const %s[];\n' "$name"
printf 'const char *const %s[] = {\n' "$name"
sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/	/\\t/g' -e 's/^/"/' -e 's/$/\\n",/' "$file"
printf '0};\n'
