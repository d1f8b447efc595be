# complete_zsh.zsh FPATH_DIR LINE WORD...: completes LINE in a real interactive
# zsh (compinit, the _herald of FPATH_DIR) on a pseudo-terminal, pressing TAB
# twice so the candidates are listed, and prints what the terminal showed
# once every WORD has appeared (or after 10 s). tests/test_package.c runs it.
zmodload zsh/zpty || exit 2
zpty z zsh -f -i
zpty -w z "PROMPT='> '; fpath=($1 \$fpath); autoload -U compinit; compinit -u -D; setopt nobeep"
zpty -w z "zstyle ':completion:*' list-prompt ''; LISTMAX=10000"
zpty -n -w z "$2"$'\t\t'
local out all i w missing
for i in {1..100}; do
  while zpty -r -t z out; do all+=$out; done
  missing=0
  for w in "${@[3,-1]}"; do [[ $all == *$w* ]] || missing=1; done
  (( missing )) || break
  sleep 0.1
done
zpty -d z
print -r -- "$all"
