"""Commands that price without measuring: `price`, `quote`, `project`, `claims`."""

import sys
import textwrap
from pathlib import Path

from tokencost.cli import json_output
from tokencost.cli.common import priceable, pricing_from, print_tables, read_run_records


def cmd_price(args) -> int:
    from bench.errors import UserError
    from bench.run.records import read_records

    imported = args.source.is_file() and args.source.suffix == ".json"
    if imported:
        _check_watts(args.watts, args.gpus or 1)
        records = _imported(args.source, args.gpu, args.gpus, args.watts, args.hardware)
    elif args.source.is_file():
        records = priceable(read_records(args.source), args.source)  # a records.jsonl
        if not records:
            raise UserError(
                "RUN_DIR_OR_JSON",
                f"{args.source} holds no records",
                "give a run directory, its records.jsonl, or a result file of vllm bench serve, AIPerf or GuideLLM",
            )
    else:
        records = read_run_records([args.source])
    pricing = pricing_from(args)
    priced = pricing.price(records)
    if args.json:
        json_output.emit(
            "price",
            source=args.source,
            **json_output.pricing_fields(pricing),
            offline=json_output.rows(priced.offline),
            serving=json_output.rows(priced.serving),
        )
    else:
        print_tables(priced, args.wide)
        if imported:
            _print_implausible(records, pricing.catalog)
            _print_sources(records)
        print(
            f"\nPreset '{pricing.assumptions.name}' (hash {pricing.assumptions.hash}); compared with {pricing.api.key}."
        )
    if args.csv:
        args.csv.parent.mkdir(parents=True, exist_ok=True)
        priced.merged().to_csv(args.csv, index=False)
        print(f"Table: {args.csv}")  # on stderr with --json
    return 0


def _imported(
    path: Path, gpu: str | None, given_gpus: int | None, watts: float | None, hardware: Path | None = None
) -> list:
    """Another tool's JSON result file as records, its tool told by its keys: AIPerf's profile export has
    `aiperf_version`, a GuideLLM report a list of `benchmarks`, InferenceX's rows `hw` and `tput_per_gpu`, an
    MLPerf Inference summary rows of `Performance_Result`; anything else is read as `vllm bench serve`'s."""
    from tokencost.imports.aiperf import is_aiperf, read_aiperf
    from tokencost.imports.guidellm import is_guidellm, read_guidellm
    from tokencost.imports.inferencex import is_inferencex, read_inferencex
    from tokencost.imports.mlperf import is_mlperf, read_mlperf
    from tokencost.imports.vllm_bench import load_result_file, read_vllm_bench
    from tokencost.pricing.catalog import find_hardware, load_catalog

    data = load_result_file(
        path,
        "give a result file of `vllm bench serve --save-result`, AIPerf (profile_export_aiperf.json), "
        "GuideLLM (benchmarks.json), InferenceX (agg_bmk.json) or MLPerf Inference (summary_results.json)",
    )
    gpus = given_gpus or 1
    if is_aiperf(data):
        return [read_aiperf(path, gpu, gpus, watts)]
    if is_guidellm(data):
        return read_guidellm(path, gpu, gpus, watts)
    if is_inferencex(data) or is_mlperf(data):  # published results, naming each row's GPUs
        catalog = load_catalog(hardware)

        def resolve(name: str) -> str:
            return find_hardware(name, catalog).key

        read = read_inferencex if is_inferencex(data) else read_mlperf
        return read(path, gpu, given_gpus, watts, resolve)
    return [read_vllm_bench(path, gpu, gpus, watts)]


def _print_sources(records: list) -> None:
    """Where published results came from (their versions) and which tokens their rates count, once per source."""
    published = [r for r in records if r.source is not None and r.source.token_definition]
    for family in dict.fromkeys(r.source.tool.split(" (")[0] for r in published):
        mine = [r for r in published if r.source.tool.split(" (")[0] == family]
        versions = sorted({r.source.version for r in mine if r.source.version})
        shown = ", ".join(versions) if len(versions) <= 3 else f"{len(versions)} versions, one per row"
        line = f"Source: {family}" + (f" ({shown})" if shown else "") + f". Tokens: {mine[0].source.token_definition}."
        if all(r.input_tokens == 0 for r in mine):
            line += " So its $/M counts output tokens alone: the whole hour is charged to them."
        print(textwrap.fill(line, 120, subsequent_indent="  "))


def _print_implausible(records: list, catalog: list) -> None:
    """Why each imported point that failed a plausibility check cannot be true."""
    from tokencost.pricing.plausibility import checked_imports, implausible_lines

    lines = implausible_lines(checked_imports(records, catalog))
    if lines:
        print("\nNot plausible (never on a Pareto front):")
    for line in lines:
        print(textwrap.fill(line, 120, initial_indent="  ", subsequent_indent="    "))


def cmd_quote(args) -> int:
    import dataclasses

    from bench.errors import UserError
    from tokencost.pricing.api_prices import blended_per_mtok
    from tokencost.pricing.catalog import find_hardware
    from tokencost.pricing.hourly import boundary_power, hourly_cost, token_prices, usd_per_mtok
    from tokencost.publish.document import number

    _check_watts(args.watts, args.gpus)
    if args.output_tok_s is not None and args.input_share is not None:
        raise UserError(
            "--input-share",
            "splits the hour by time spent on input, which needs the input throughput --output-tok-s leaves out",
            "give --total-tok-s (input + output tokens a second) in place of --output-tok-s",
        )
    pricing = pricing_from(args)
    a = pricing.assumptions
    hardware = find_hardware(args.gpu, pricing.catalog)
    watts = args.watts or args.gpus * hardware.tdp_w
    cost = hourly_cost(args.gpus, hardware, watts, a)
    power = boundary_power(args.gpus, hardware, watts, a)
    share = args.input_tokens_share
    api = blended_per_mtok(pricing.api, share, 1 - share)  # per input+output token at this mix
    api_per_output = api / (1 - share)  # the API's bill for one output token and its share of input tokens
    # The token basis: output tokens as given (--output-tok-s), or input + output split by the share of input.
    total_tok_s = args.total_tok_s
    output_tok_s = args.output_tok_s if total_tok_s is None else total_tok_s * (1 - share)
    input_tok_s = None if total_tok_s is None else total_tok_s - output_tok_s
    prices = None if input_tok_s is None else token_prices(cost.total, input_tok_s, output_tok_s, args.input_share)
    per_output = usd_per_mtok(cost.total, output_tok_s)  # the whole hour charged to the output tokens
    if args.json:
        json_output.emit(
            "quote",
            gpu=hardware.key,
            gpu_name=hardware.display_name,
            gpus=args.gpus,
            token_basis="output" if total_tok_s is None else "input+output",
            tok_s={"total": total_tok_s, "input": input_tok_s, "output": output_tok_s},
            input_tokens_share=share,
            power={
                "boundary": a.power_boundary,
                "gpu_w": watts,
                "gpu_w_method": "given" if args.watts else "estimated (TDP)",
                "host_w": power.host_w,
                "boundary_w": power.watts,
                "billed_w": power.billed_w,
            },
            j_per_token=None if total_tok_s is None else power.watts / total_tok_s,
            j_per_output_token=power.watts / output_tok_s,
            tok_s_per_mw=None if total_tok_s is None else total_tok_s / power.watts * 1e6,
            output_tok_s_per_mw=output_tok_s / power.watts * 1e6,
            usd_per_hour={"total": cost.total, **dataclasses.asdict(cost)},
            input_time_share=args.input_share,
            usd_per_mtok={
                "total": None if prices is None else prices.total,
                "input": prices.input if prices is not None and args.input_share is not None else None,
                "output": prices.output if prices is not None and args.input_share is not None else None,
            },
            usd_per_output_mtok=per_output,
            **json_output.pricing_fields(pricing),
            api_usd_per_mtok=api,
            api_usd_per_output_mtok=api_per_output,
            times_api=per_output / api_per_output,  # the same ratio on either basis
            label=f"tok/s given; power {'given' if args.watts else 'estimated (TDP)'}; $ estimated from '{a.name}'",
        )
        return 0

    def usd(value: float) -> str:
        return "$" + number(value)

    device = f"{number(watts)} W {'given' if args.watts else 'at TDP, estimated'}"
    if a.power_boundary == "gpu":
        at_boundary = f"{device}, GPUs only (a floor: no host)"
    else:
        node = f"{device} + {number(power.host_w)} W host share"
        at_boundary = (
            f"{node} = {number(power.watts)} W"
            if a.power_boundary == "node"
            else f"({node}) x PUE {a.pue:g} = {number(power.watts)} W"
        )
    if a.ownership == "rented":
        bill = "electricity: inside the rental rate"
    else:
        covered = "GPUs" if a.power_boundary == "gpu" else "node"
        bill = (
            f"electricity billed: {number(power.billed_w)} W ({covered}) x PUE {a.pue:g} x ${a.usd_per_kwh:g}/kWh"
            + (f", idle hours ({1 - a.utilization:.0%}) at idle watts" if a.utilization < 1 else "")
        )
    hourly = f"hourly cost per serving hour: {usd(cost.total)} = " + " + ".join(
        f"{c} {usd(getattr(cost, c))} ({s:.0%})" for c, s in cost.shares().items() if getattr(cost, c)
    )
    where = f"preset '{a.name}' ({a.ownership}, hash {a.hash})"
    boundary = f"power at the {a.power_boundary} boundary: {at_boundary}"
    if prices is None:
        lines = [
            f"{args.gpus} x {hardware.display_name} at {number(output_tok_s)} output tok/s; {where}",
            boundary,
            f"  {number(power.watts / output_tok_s)} J per output token; "
            f"{number(output_tok_s / power.watts * 1e6)} output tok/s per MW",
            bill,
            hourly,
            f"$/M output tokens: {number(per_output)} (basis: output tokens; the whole hour charged to them, the "
            "input tokens they came with not counted)",
            f"{pricing.api.display_name} per M output tokens, their input tokens included "
            f"({number(share / (1 - share), 3)} per output token at --input-tokens-share {share:g}): "
            f"{usd(api_per_output)}, so self-hosting costs {number(per_output / api_per_output, 3)}x the API",
        ]
        print("\n".join(textwrap.fill(line, 120, subsequent_indent="  ") for line in lines))
        return 0
    lines = [
        f"{args.gpus} x {hardware.display_name} at {number(total_tok_s)} input+output tok/s "
        f"({number(input_tok_s)} input, {number(output_tok_s)} output: --input-tokens-share {share:g}); {where}",
        boundary,
        f"  {number(power.watts / total_tok_s)} J per input+output token ({number(power.watts / output_tok_s)} J "
        f"per output token); {number(total_tok_s / power.watts * 1e6)} input+output tok/s per MW",
        bill,
        hourly,
        f"$/M input+output tokens: {number(prices.total)}",
    ]
    if args.input_share is not None:
        lines.append(
            f"$/M by type: {number(prices.input)} input, {number(prices.output)} output (the hour split "
            f"by --input-share {args.input_share:g} of time on input)"
        )
    else:
        lines.append(
            "$/M by type: not split; give --input-share (the share of time spent on input) to split the "
            "hour between input and output"
        )
    lines.append(
        f"{pricing.api.display_name} at this token mix: {usd(api)}/M input+output tokens, so self-hosting costs "
        f"{number(prices.total / api, 3)}x the API"
    )
    print("\n".join(textwrap.fill(line, 120, subsequent_indent="  ") for line in lines))
    return 0


def _check_watts(watts: float | None, gpus: int) -> None:
    """--watts is the power of all the GPUs: more than any GPU draws, per GPU, is a typo."""
    from bench.errors import UserError
    from tokencost.cli.args import MAX_WATTS_PER_GPU

    if watts is not None and watts / gpus > MAX_WATTS_PER_GPU:
        raise UserError(
            "--watts",
            f"is {watts:g} W for {gpus} GPU(s), above {MAX_WATTS_PER_GPU:g} W a GPU",
            "give the measured power of all the GPUs together, in watts",
        )


def cmd_project(args) -> int:
    from bench.errors import UserError
    from bench.inputs.cards import named_card
    from bench.inputs.precision import Precision
    from bench.inputs.suite import MAX_IN_FLIGHT
    from bench.inputs.workload import MAX_TOKENS
    from tokencost.analysis.projection import measured_efficiency, project

    card = named_card(args.model, "--model")  # a broken card is named before anything is projected
    context = card.max_context or MAX_TOKENS
    if args.isl + args.osl > context:
        raise UserError(
            "--isl/--osl",
            f"{args.isl}+{args.osl} exceeds {card.name}'s context of {context} tokens",
            f"lower --isl/--osl to at most {context} tokens together",
        )
    if max(args.batch_sizes) > MAX_IN_FLIGHT:
        raise UserError(
            "--batch-sizes",
            f"is {max(args.batch_sizes)}, above the cap of {MAX_IN_FLIGHT}",
            f"give batch sizes of at most {MAX_IN_FLIGHT}",
        )
    pricing = pricing_from(args)
    precision = Precision(weights=args.precision, kv_cache=args.kv_cache_dtype)
    efficiency, source = None, ""
    if args.efficiency is not None and Path(args.efficiency).is_dir():
        efficiency, source = measured_efficiency(Path(args.efficiency), pricing, card.kind, precision=precision.name)
    elif args.efficiency is not None:
        try:
            efficiency, source = float(args.efficiency), "given on the command line"
        except ValueError:
            raise UserError(
                "--efficiency",
                f"{args.efficiency!r} is neither a run directory nor a number",
                "give a run directory or a fraction such as 0.4",
            ) from None
        if not 0 < efficiency <= 1:
            raise UserError("--efficiency", f"is {efficiency}", "give a fraction in (0, 1]")
    table, notes = project(
        card.name, args.gpu, args.gpus, args.batch_sizes, args.isl, args.osl, pricing, efficiency, source, precision
    )
    if args.json:
        json_output.emit(
            "project",
            model=card.name,
            gpu=args.gpu,
            gpus=args.gpus,
            isl=args.isl,
            osl=args.osl,
            precision=precision.to_record(),
            efficiency={"value": efficiency, "source": source or "calibration: see each row's label"},
            **json_output.pricing_fields(pricing),
            rows=json_output.rows(table),
            notes=notes,
        )
    else:
        print(
            f"{card.name} on {args.gpus} x {args.gpu}, ISL {args.isl} / OSL {args.osl}, "
            + ("" if precision.is_default else f"{precision.describe()}, ")
            + f"preset '{pricing.assumptions.name}'"
        )
        if not table.empty:
            print(projection_table(table))
            legend = (
                "projected and band: output tok/s of all the GPUs (band: where the regime's held-out measurements put "
                "it; the roofline's ceiling and bound are in --json and --csv); per user (tok/s) and TTFT: each "
                "user's; $/M in+out: per million input + output tokens"
            )
            print(textwrap.fill(legend, 120))
            print(textwrap.fill(f"All figures PROJECTED, not measured: {table['label'].iloc[0]}", 120))
            for name, basis in dict(zip(table["regime"], table["band_basis"])).items():
                print(textwrap.fill(f"Band, {name}: {basis}", 120))
        for note in notes:
            print(textwrap.fill(f"Note: {note}", 120))
    if args.csv:
        args.csv.parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(args.csv, index=False)
    if table.empty:
        print(f"tokencost: nothing fits: {_fewest_gpus(card, args, pricing, precision)}", file=sys.stderr)
        return 1
    return 0


def _fewest_gpus(card, args, pricing, precision) -> str:
    """Where the model would fit, by the fit `project` checks: the fewest GPUs of one node, or that none holds it."""
    from tokencost.analysis.projection import GPU_COUNTS, fewest_gpus
    from tokencost.pricing.catalog import find_hardware

    entry = find_hardware(args.gpu, pricing.catalog)
    fewest = fewest_gpus(card, entry, args.isl, args.osl, [n for n in GPU_COUNTS if n > args.gpus], precision)
    where = f"{card.name} at ISL {args.isl} + OSL {args.osl} does not fit {args.gpus} x {entry.key}"
    if fewest is not None:
        return f"{where}; {fewest} x {entry.key} hold it: give --gpus {fewest}"
    most = max(GPU_COUNTS)
    nor = f", nor {most} (the most one node has)" if args.gpus < most else ""
    return f"{where}{nor}; give a GPU with more memory, shorter --isl/--osl, or a smaller model"


def cmd_claims(args) -> int:
    from tokencost.analysis.claims import check_claims
    from tokencost.publish.markdown import claims_markdown

    records = read_run_records(args.run_dirs)
    pricing = pricing_from(args)
    priced = pricing.price(records)
    table = check_claims(priced.offline, pricing)
    serving_only = priced.offline.empty and not priced.serving.empty
    if args.json:
        json_output.emit(
            "claims",
            runs=args.run_dirs,
            **json_output.pricing_fields(pricing),
            serving_only=serving_only,
            claims=json_output.rows(table),
        )
    else:
        print(table[["claim", "verdict", "evidence"]].to_markdown(index=False))
        if serving_only:
            print("\nThe claims are judged on offline (batch) points; these runs hold serving points only.")
        for projection in table["projection"][table["projection"] != ""]:
            print(f"\n{projection}")
        print(f"\nPreset '{pricing.assumptions.name}' (hash {pricing.assumptions.hash}).")
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "claims.md").write_text(claims_markdown(table, [str(d) for d in args.run_dirs], pricing))
        print(f"\nClaims: {args.out / 'claims.md'}")
    return 0


def projection_table(table) -> str:
    """The projection rows as a table that reads at 120 columns."""

    import pandas as pd  # here, not at the top: `tokencost --help` imports no pandas

    def band(low, high) -> str:
        return "n/a" if pd.isna(low) or pd.isna(high) else f"{low:,.0f}-{high:,.0f}"

    shown = table.assign(
        band=[
            band(lo, hi) for lo, hi in zip(table["projected_output_tok_s_low"], table["projected_output_tok_s_high"])
        ],
        projected=table["projected_output_tok_s"].map("{:,.0f}".format),
        usd=table["projected_total_per_mtok_usd"].map(lambda v: f"{v:.4g}" if v >= 0.001 else f"{v:.6f}"),
        per_user=table["tok_s_per_user"].map("{:,.1f}".format),
        ttft=table["ttft_ms"].map("{:,.0f}".format),
    )[["batch_size", "max_batch", "projected", "band", "regime", "per_user", "ttft", "usd"]]
    return shown.rename(
        columns={
            "batch_size": "batch",
            "max_batch": "KV holds",
            "projected": "projected tok/s",
            "band": "band",
            "per_user": "per user",
            "ttft": "TTFT ms",
            "usd": "$/M in+out",
        }
    ).to_markdown(index=False)
