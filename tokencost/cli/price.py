"""Commands that price without measuring: `price`, `quote`, `project`, `claims`, `presets`."""

from pathlib import Path

from tokencost.cli.common import priceable, pricing_from, print_tables, read_run_records


def cmd_price(args) -> int:
    from bench.errors import UserError
    from bench.run.records import read_records
    from tokencost.imports.vllm_bench import read_vllm_bench

    if args.source.is_file() and args.source.suffix == ".json":
        _check_watts(args.watts, args.gpus)
        records = [read_vllm_bench(args.source, args.gpu, args.gpus, args.watts)]
    elif args.source.is_file():
        records = priceable(read_records(args.source), args.source)  # a records.jsonl
        if not records:
            raise UserError("RUN_DIR_OR_JSON", f"{args.source} holds no records",
                            "give a run directory, its records.jsonl, or a `vllm bench serve --save-result` file")
    else:
        records = read_run_records([args.source])
    pricing = pricing_from(args)
    priced = pricing.price(records)
    print_tables(priced)
    print(f"\nPreset '{pricing.assumptions.name}' (hash {pricing.assumptions.hash}); compared with {pricing.api.key}.")
    if args.csv:
        args.csv.parent.mkdir(parents=True, exist_ok=True)
        priced.merged().to_csv(args.csv, index=False)
        print(f"Table: {args.csv}")
    return 0


def cmd_quote(args) -> int:
    from tokencost.pricing.api_prices import blended_per_mtok
    from tokencost.pricing.catalog import find_hardware
    from tokencost.pricing.hourly import hourly_cost, token_prices

    _check_watts(args.watts, args.gpus)
    pricing = pricing_from(args)
    hardware = find_hardware(args.gpu, pricing.catalog)
    watts = args.watts or args.gpus * hardware.tdp_w
    cost = hourly_cost(args.gpus, hardware, watts, pricing.assumptions)
    input_tok_s = args.tok_s * args.input_tokens_share
    prices = token_prices(cost.total, input_tok_s, args.tok_s - input_tok_s, args.input_share)
    api = blended_per_mtok(pricing.api, args.input_tokens_share, 1 - args.input_tokens_share)
    a = pricing.assumptions
    print(f"{args.gpus} x {hardware.display_name} at {args.tok_s:g} tok/s, "
          f"{watts:g} W ({'given' if args.watts else 'TDP, estimated'}), preset '{a.name}' ({a.ownership})")
    print(f"hourly cost per serving hour: ${cost.total:.4f}  "
          + "  ".join(f"{c} ${getattr(cost, c):.4f} ({s:.0%})" for c, s in cost.shares().items() if getattr(cost, c)))
    split = "split by time share" if args.input_share is not None else "whole hour charged to each (not split)"
    print(f"$/M tokens: {prices.total:.4f} total; {prices.input:.4f} input, {prices.output:.4f} output ({split})")
    print(f"{pricing.api.display_name} at this token mix: ${api:.4f}/M, so self-hosting costs {prices.total / api:.3g}x the API")
    return 0


def _check_watts(watts: float | None, gpus: int) -> None:
    """--watts is the power of all the GPUs: more than any GPU draws, per GPU, is a typo."""
    from bench.errors import UserError
    from tokencost.cli.args import MAX_WATTS_PER_GPU

    if watts is not None and watts / gpus > MAX_WATTS_PER_GPU:
        raise UserError("--watts", f"is {watts:g} W for {gpus} GPU(s), above {MAX_WATTS_PER_GPU:g} W a GPU",
                        "give the measured power of all the GPUs together, in watts")


def cmd_project(args) -> int:
    from bench.errors import UserError
    from bench.inputs.cards import load_card
    from bench.inputs.suite import MAX_IN_FLIGHT
    from bench.inputs.workload import MAX_TOKENS
    from tokencost.analysis.projection import measured_efficiency, project
    from tokencost.publish.document import NUMBER_FORMAT

    card = load_card(args.model)  # a broken card is named before anything is projected
    context = card.max_context or MAX_TOKENS
    if args.isl + args.osl > context:
        raise UserError("--isl/--osl", f"{args.isl}+{args.osl} exceeds {card.name}'s context of {context} tokens",
                        f"lower --isl/--osl to at most {context} tokens together")
    if max(args.batch_sizes) > MAX_IN_FLIGHT:
        raise UserError("--batch-sizes", f"is {max(args.batch_sizes)}, above the cap of {MAX_IN_FLIGHT}",
                        f"give batch sizes of at most {MAX_IN_FLIGHT}")
    pricing = pricing_from(args)
    if args.efficiency is None:
        efficiency, source = 1.0, "none given: the bare ceiling"
    elif Path(args.efficiency).is_dir():
        efficiency, source = measured_efficiency(Path(args.efficiency), pricing)
    else:
        try:
            efficiency, source = float(args.efficiency), "given on the command line"
        except ValueError:
            raise UserError("--efficiency", f"{args.efficiency!r} is neither a run directory nor a number",
                            "give a run directory or a fraction such as 0.4") from None
        if not 0 < efficiency <= 1:
            raise UserError("--efficiency", f"is {efficiency}", "give a fraction in (0, 1]")
    table = project(args.model, args.gpu, args.gpus, args.batch_sizes, args.isl, args.osl, efficiency, source, pricing)
    print(table.drop(columns=["label"]).to_markdown(index=False, floatfmt=NUMBER_FORMAT))
    print(f"\nAll figures PROJECTED, not measured: {table['label'].iloc[0]}")
    if args.csv:
        args.csv.parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(args.csv, index=False)
    return 0


def cmd_claims(args) -> int:
    from tokencost.analysis.claims import check_claims
    from tokencost.publish.markdown import claims_markdown

    records = read_run_records(args.run_dirs)
    pricing = pricing_from(args)
    priced = pricing.price(records)
    table = check_claims(priced.offline, pricing)
    print(table[["claim", "verdict", "evidence"]].to_markdown(index=False))
    if priced.offline.empty and not priced.serving.empty:
        print("\nThe claims are judged on offline (batch) points; these runs hold serving points only.")
    for projection in table["projection"][table["projection"] != ""]:
        print(f"\n{projection}")
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "claims.md").write_text(claims_markdown(table, [str(d) for d in args.run_dirs], pricing))
        print(f"\nClaims: {args.out / 'claims.md'}")
    return 0


def cmd_presets(args) -> int:
    from tokencost.pricing.assumptions import load_assumptions, preset_names

    for name in preset_names():
        a = load_assumptions(name)
        print(f"{name:<24} {a.ownership:<7} {a.description}")
    return 0
