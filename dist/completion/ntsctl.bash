# bash completion for ntsctl(8); installed as share/bash-completion/completions/ntsctl.

_ntsctl()
{
	local cur prev words cword
	_init_completion || return

	local globals="--ctl-socket --pin-dir --db --help"
	local commands="attach detach status stats fastpath allocations account token key usage
		diag-link top reload upgrade fleet drain undrain secret"
	local i cmd="" sub="" nargs=0

	# The subcommand is the first word that is neither a global option nor its value.
	for ((i = 1; i < cword; i++)); do
		case ${words[i]} in
		--ctl-socket | --pin-dir | --db) ((i++)) ;;
		-*) ;;
		*)
			if [[ -z $cmd ]]; then
				cmd=${words[i]}
			else
				[[ -z $sub ]] && sub=${words[i]}
				((nargs++))
			fi
			;;
		esac
	done

	case $prev in
	--ctl-socket | --db | --binary)
		_filedir
		return
		;;
	--pin-dir)
		_filedir -d
		return
		;;
	--mode)
		COMPREPLY=($(compgen -W "native skb" -- "$cur"))
		return
		;;
	--channels | --allocations | --ttl | --max-allocations | --max-bps | --account | --parent | \
		--overlap)
		return
		;;
	esac

	if [[ -z $cmd ]]; then
		COMPREPLY=($(compgen -W "$globals $commands" -- "$cur"))
		return
	fi

	local words_for=""
	case $cmd in
	attach)
		if ((nargs == 0)) && [[ $cur != -* ]]; then
			_available_interfaces
			return
		fi
		words_for="--mode --channels --allocations --help"
		;;
	detach)
		if ((nargs == 0)) && [[ $cur != -* ]]; then
			_available_interfaces
			return
		fi
		words_for="--help"
		;;
	status | stats) words_for="--json --help" ;;
	fastpath) ((nargs == 0)) && words_for="flush --help" ;;
	allocations)
		if ((nargs == 0)); then words_for="delete --json --help"; fi
		;;
	account)
		case $sub in
		"") words_for="create list suspend activate close set --help" ;;
		create) words_for="--parent --json" ;;
		set) words_for="--max-allocations --max-bps --json" ;;
		*) words_for="--json" ;;
		esac
		;;
	token)
		if ((nargs == 0)); then words_for="create --help"; else words_for="--account --ttl --json"; fi
		;;
	key)
		if ((nargs == 0)); then words_for="create list delete --help"; else words_for="--json"; fi
		;;
	usage) words_for="--account --daily --monthly --json --help" ;;
	diag-link) words_for="--account --ttl --base --json --help" ;;
	top) words_for="--once --help" ;;
	reload | undrain) words_for="--help" ;;
	fleet) words_for="--json --help" ;;
	drain) words_for="--wait --help" ;;
	secret)
		if ((nargs == 0)); then words_for="rotate --help"; else words_for="--overlap --json"; fi
		;;
	upgrade)
		if [[ $prev == --binary ]]; then
			COMPREPLY=($(compgen -f -- "$cur"))
			return
		fi
		words_for="--binary --json --help"
		;;
	esac
	COMPREPLY=($(compgen -W "$words_for" -- "$cur"))
} &&
	complete -F _ntsctl ntsctl
