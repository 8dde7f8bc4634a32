#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""report.py RESULTS [--no-plots] [--readme README] [--image PNG]: bench's report.

Reads RESULTS (written by selftests/bench/bench) and writes, beside it:
  results.md      every figure as a Markdown table, grouped;
  GROUP.png       the latency distribution (CDF, log scale) of each group's
                  figures: floor, vmlet, vmlet-restore, vmlet-hostcall,
                  vmlet-tracing, qemu, process, wasm; density.png (bars,
                  KiB per idle instance); overview.png (p50 with min..p99 of
                  the main figure of every group: the README's plot).
Prints the main table. --no-plots skips the PNGs; --readme puts the main
table between README's "<!-- bench-table -->" markers; --image copies
overview.png to PNG. After a new run, the README's table and plot come from
  report.py bench/results.json --readme README.md --image selftests/bench/overview.png

Needs only python3 and, for the plots, gnuplot (Debian's gnuplot-nox).
"""
import argparse
import json
import os
import shutil
import subprocess
import sys

# The README's table: the main figure of each scenario, in this order.
MAIN = [
    "floor.create", "floor.out", "floor.reentry",
    "vmlet.cold-boot", "vmlet.cold", "vmlet.cold-4k", "vmlet.cold-first", "vmlet.snapshot",
    "vmlet.warm", "vmlet.acquire", "vmlet.fresh.copy", "vmlet.fresh.drop",
    "vmlet.hostcall.floor.out", "vmlet.hostcall.service", "vmlet.hostcall.inline",
    "vmlet.restore.copy-4k-1", "vmlet.restore.copy-4k-256",
    "qemu.boot", "qemu.exit",
    "process.plain", "process.seccomp",
    "wasm.start", "wasm.compile", "wasm.instantiate", "wasm.warm",
    "snapfile.save", "snapfile.load", "snapfile.cold", "snapfile.file", "snapfile.node",
    "snapfile.js_cold", "snapfile.js_file",
    "snapfile_vmtest.cold", "snapfile_vmtest.file", "snapfile_vmtest.js_cold",
    "snapfile_vmtest.js_file",
    "js.load", "js.snapshot", "js.warm", "js.fresh", "js.node_warm", "js.node_context", "js.node_start",
    "wasm_guest_vmtest.floor.out", "wasm_guest_vmtest.native_checked",
    "wasm_guest_vmtest.checksum",
]

# The overview plot: fewer, one or two per group.
OVERVIEW = [
    "floor.create", "floor.out",
    "vmlet.cold", "vmlet.warm", "vmlet.fresh.copy", "vmlet.hostcall.service",
    "vmlet.restore.copy-4k-1",
    "qemu.boot", "process.plain", "process.seccomp",
    "wasm.start", "wasm.instantiate", "wasm.warm",
]

# Plots: file name, title, which figure paths (prefixes) go in it.
PLOTS = [
    ("floor", "Raw KVM floor", ["floor."]),
    ("vmlet", "vmlet (and the floor)",
     ["floor.out", "floor.create", "vmlet.cold", "vmlet.warm", "vmlet.acquire", "vmlet.fresh."]),
    ("vmlet-restore", "vmlet: restore after a call dirtied N pages", ["vmlet.restore."]),
    ("vmlet-hostcall", "vmlet: host calls (per host call)",
     ["vmlet.hostcall.floor.out", "vmlet.hostcall.call", "vmlet.hostcall.service",
      "vmlet.hostcall.inline"]),
    ("vmlet-tracing", "vmlet: calls under vmlet-trace", ["vmlet.tracing."]),
    ("qemu", "QEMU microvm booting a guest of ours (and the floor)",
     ["floor.create", "vmlet.cold", "qemu."]),
    ("process", "A process per call (and vmlet)",
     ["floor.out", "vmlet.fresh.copy", "process."]),
    ("wasm", "Wasm in Node (and vmlet)", ["vmlet.warm", "vmlet.fresh.copy", "wasm."]),
    ("snapfile", "A new process to its first result: snapshot file, cold boot, process, Node",
     ["snapfile.cold", "snapfile.file", "snapfile.process", "snapfile.node",
      "snapfile.js_cold", "snapfile.js_file"]),
    ("snapfile-vmtest", "A new process to its first result, in the vmtest VM (nested KVM)",
     ["snapfile_vmtest.cold", "snapfile_vmtest.file", "snapfile_vmtest.process",
      "snapfile_vmtest.node", "snapfile_vmtest.js_cold", "snapfile_vmtest.js_file"]),
]


def figures(node, path=()):
    """(dotted path, figure) for every latency figure under node."""
    if not isinstance(node, dict):
        return
    if "label" in node and ("p50" in node or "error" in node or "skipped" in node) \
            and "pss_kib" not in node and path[:1] != ("density",):
        yield ".".join(path), node
        return
    for k, v in node.items():
        yield from figures(v, path + (k,))


def us(v):
    """A latency in microseconds, to three significant digits or so."""
    if v is None:
        return "-"
    if v >= 100:
        return f"{v:,.0f}"
    if v >= 10:
        return f"{v:.1f}"
    if v >= 1:
        return f"{v:.2f}"
    return f"{v:.3g}"


def count(c, *keys):
    for k in keys:
        if c and k in c:
            v = c[k]
            return f"{v:.0f}" if v == round(v) else f"{v:.2f}"
    return "-"


def vmtest_groups(res):
    """(dotted path, object) of each group whose figures the vmtest VM measured."""
    for p, g in [("vmlet.hostcall", res.get("vmlet", {}).get("hostcall"))] + [
            (k, v) for k, v in res.items() if k != "vmlet"]:
        if isinstance(g, dict) and g.get("where") == "vmtest":
            yield p, g


def where_note(res, path):
    for p, _ in vmtest_groups(res):
        if path == p or path.startswith(p + "."):
            return " †"
    return ""


def row(res, path, f):
    name = f["label"] + where_note(res, path)
    if "error" in f:
        return f"| {name} | FAILED: {f['error']} | | | | | | | | |"
    if "skipped" in f:
        return f"| {name} | not run: {f['skipped']} | | | | | | | | |"
    ratio = ""
    if "ratio" in f:
        ratio = f"{f['ratio']:.2f}x" if f["ratio"] >= 0.1 else f"{f['ratio']:.2g}x"
    c = f.get("counts")
    insns = count(c, "guest_insns_single_step", "guest_insns")
    return (f"| {name} | {us(f['p50'])} | {us(f['min'])} | {us(f['p99'])} | {ratio} | "
            f"{count(c, 'kvm_exits')} | {insns} | {count(c, 'syscalls')} | "
            f"{count(c, 'vm_exits')} | {count(c, 'page_fault_exits')} |")


HEAD = ("| scenario | p50 (us) | min (us) | p99 (us) | p50 vs floor | KVM exits | "
        "guest insns | syscalls | all VM exits | page-fault exits |\n"
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|")


# The density rows, in this order.
DENSITY = ("vmlet", "vmlet_file", "qemu", "process")


def density_table(res):
    d = res.get("density", {})
    out = ["| idle instance | n | PSS (KiB) | per GiB (PSS) | kernel (KiB) | "
           "per GiB (PSS + kernel) |", "|---|--:|--:|--:|--:|--:|"]
    for key in DENSITY:
        e = d.get(key)
        if not e:
            continue
        if "error" in e:
            out.append(f"| {e['label']} | FAILED: {e['error']} | | | | |")
            continue
        out.append(f"| {e['label']} | {e['n']:.0f} | {e['pss_kib']:,.1f} | {e['per_gib']:,.0f} | "
                   f"{e['kernel_kib']:,.1f} | {e['per_gib_with_kernel']:,.0f} |")
    return "\n".join(out) if len(out) > 2 else ""


def machine_line(res):
    m = res.get("machine", {})
    s = (f"{m.get('cpu', '?')}, {m.get('cores', 0):.0f} cores, {m.get('mem_mib', 0) / 1024:.0f} GiB; "
         f"kernel {res.get('kernel', '?').split()[0]}; KVM guest code {m.get('guest_code', '?')}"
         f"{', nested' if m.get('nested') else ''}; backing {res.get('backing', '?')}")
    if res.get("rev"):
        s += f"; vmlet {res['rev']}"
    return s + f"; {res.get('date', '')}"


def vmtest_notes(res):
    """One line per group measured in the vmtest VM: where, and why."""
    out = []
    for p, g in vmtest_groups(res):
        m = g.get("machine", {})
        what = "" if p == "vmlet.hostcall" else f"{p}: "
        out.append(f"† {what}measured in the vmtest VM ({m.get('cpu', '?')}, kernel "
                   f"{g.get('kernel', '?').split()[0]}, nested KVM under QEMU/TCG), ratio to the "
                   f"{'floor' if p == 'vmlet.hostcall' else 'figure'} measured there, because "
                   f"here: {g.get('here_error', '?')}")
    return "\n\n".join(out)


def targets(res):
    """The wasm-guest and js targets, where they were measured: one line each."""
    out = []
    for p in ("wasm_guest", "wasm_guest_vmtest"):
        g = res.get(p, {})
        r, t = g.get("checksum_vs_native_plus_exit"), g.get("checksum_vs_native_plus_exit_target")
        if r is None or t is None:
            continue
        m = g.get("machine", res.get("machine", {}))
        if m.get("guest_code") == "native":
            verdict = "met" if r <= t else "not met"
        else:
            verdict = "meaningless where KVM emulates guest code"
        how = ""
        if g.get("checksum_vs_native_plus_exit_p50") is not None:
            n = (g.get("checksum_vs_native_plus_exit_rounds", 0) *
                 g.get("checksum_vs_native_plus_exit_batch", 0))
            how = f", best of {n:.0f} interleaved; p50 {g['checksum_vs_native_plus_exit_p50']:.2f}x"
        out.append(f"{p}: warm checksum(4 KiB) / (native checksum + floor.out) = {r:.2f}x "
                   f"(target {t:.1f}x: {verdict}{how}){where_note(res, p)}")
    out.extend(js_targets(res))
    return "\n\n".join(out)


def js_targets(res):
    """The js group's targets from its own run, and the published anchors beside them."""
    g = res.get("js", {})
    out = []
    r, t = g.get("fresh_vs_warm"), g.get("fresh_vs_warm_target")
    if r is not None and t is not None:
        p50 = g.get("fresh_vs_warm_p50")
        how = f", fastest of each, timed in turn; p50 {p50:.2f}x" if p50 is not None else ""
        out.append(f"js: fresh-VM event / warm event = {r:.2f}x "
                   f"(target {t:.0f}x: {'met' if r <= t else 'not met'}{how})"
                   f"{where_note(res, 'js')}")
    r, t = g.get("fresh_vs_node_context"), g.get("fresh_vs_node_context_target")
    if r is not None and t is not None:
        out.append(f"js: fresh-VM event / Node new vm context event = {r:.2f}x "
                   f"(target below {t:.0f}x: {'met' if r < t else 'not met'})"
                   f"{where_note(res, 'js')}")
    a = g.get("anchors")
    if a:
        out.append(f"js anchors, published on Hyperlight's hardware, not measured here: "
                   f"hyperlight-js about {a['hyperlight_js_warm_us']:.0f} us per warm call; "
                   f"Hyperlight's JS sandbox {a['hyperlight_js_restore_run_us'] / 1000:.1f} ms "
                   f"per restore + run, {a['hyperlight_js_cold_us'] / 1000:.1f} ms cold start")
    return out


def main_table(res):
    figs = dict(figures(res))
    rows = [row(res, p, figs[p]) for p in MAIN if p in figs]
    parts = [HEAD + "\n" + "\n".join(rows)]
    if targets(res):
        parts.append(targets(res))
    note = vmtest_notes(res)
    if note:
        parts.append(note)
    dt = density_table(res)
    if dt:
        parts.append(dt)
    return "\n\n".join(parts)


def full_table(res):
    out = [f"# bench results\n\n{machine_line(res)}\n"]
    if res.get("note"):
        out.append(f"Note: {res['note']}.\n")
    groups = {}
    for p, f in figures(res):
        g = p.split(".")[0] if not p.startswith("vmlet.") else ".".join(p.split(".")[:2])
        groups.setdefault(g, []).append((p, f))
    for g, fs in groups.items():
        out.append(f"## {g}\n\n{HEAD}")
        out.extend(row(res, p, f) for p, f in fs)
        out.append("")
    if targets(res):
        out.append(targets(res) + "\n")
    note = vmtest_notes(res)
    if note:
        out.append(note + "\n")
    qemu = res.get("qemu", {})
    if qemu.get("command"):
        out.append(f"QEMU ran as `{qemu['command']}` (CPU model `{qemu.get('cpu', 'host')}`).\n")
    tp = res.get("vmlet", {}).get("hostcall", {}).get("throughput")
    if tp:
        out.append("Host-call throughput (" + tp.get("unit", "") + "): " + ", ".join(
            f"{k} sandbox{'es' if k != '1' else ''}: "
            + (f"{v:,.0f}" if isinstance(v, (int, float)) else f"FAILED ({v})")
            for k, v in tp.items() if k != "unit") + "\n")
    dt = density_table(res)
    if dt:
        out.append("## density\n\n" + dt + "\n")
    return "\n".join(out)


def gp_str(s):
    return "'" + s.replace("'", "''") + "'"


def gp_dq(s):
    """A gnuplot double-quoted string: newlines allowed."""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def gp_head(out, title, w=960, h=560):
    return (f"set terminal pngcairo size {w},{h} font 'sans,10'\n"
            "set termoption noenhanced\n"
            f"set output {gp_str(out)}\nset title {gp_dq(title)}\n"
            "set grid\nset key below\n")


def cdf_plot(res, path, title, prefixes):
    figs = [(p, f) for p, f in figures(res)
            if any(p == x or (x.endswith(".") and p.startswith(x)) for x in prefixes)
            and "cdf" in f]
    if not figs:
        return None
    gp = gp_head(path, title)
    gp += ("set logscale x\nset xlabel 'latency (us, log scale)'\nset ylabel 'percentile'\n"
           "set yrange [0:100]\nset format x '%g'\n")
    plots = []
    for i, (p, f) in enumerate(figs):
        gp += f"$d{i} << EOD\n" + "".join(f"{v} {q}\n" for q, v in f["cdf"]) + "EOD\n"
        plots.append(f"$d{i} using 1:2 with linespoints pt 7 ps 0.4 lw 1.5 "
                     f"title {gp_str(f['label'] + where_note(res, p))}")
    return gp + "plot " + ", \\\n     ".join(plots) + "\n"


def overview_plot(res, path):
    figs = dict(figures(res))
    pts = [(p, figs[p]) for p in OVERVIEW if p in figs and "p50" in figs[p]]
    if not pts:
        return None
    n = len(pts)
    m = res.get("machine", {})
    gp = gp_head(path, "p50 per operation (dot) and min to p99 (bar), log scale\n"
                 f"{m.get('cpu', '?')}, {m.get('cores', 0):.0f} cores, kernel "
                 f"{res.get('kernel', '?').split()[0]}, KVM guest code {m.get('guest_code', '?')}",
                 1000, 140 + 30 * n)
    gp += ("set logscale x\nset xlabel 'us per operation (log scale)'\nset format x '%g'\n"
           f"set yrange [-0.7:{n - 0.3}]\nset ytics (" +
           ", ".join(f"{gp_str(f['label'] + where_note(res, p))} {n - 1 - i}"
                     for i, (p, f) in enumerate(pts)) + ")\nset key off\n")
    plots = []
    groups = []
    for i, (p, f) in enumerate(pts):
        g = p.split(".")[0]
        if g not in groups:
            groups.append(g)
    for gi, g in enumerate(groups):
        gp += f"$g{gi} << EOD\n"
        for i, (p, f) in enumerate(pts):
            if p.split(".")[0] == g:
                gp += f"{f['p50']} {n - 1 - i} {f['min']} {f['p99']}\n"
        gp += "EOD\n"
        plots.append(f"$g{gi} using 1:2:3:4 with xerrorbars pt 7 ps 1.2 lw 2 lc {gi + 1}")
    return gp + "plot " + ", \\\n     ".join(plots) + "\n"


def density_plot(res, path):
    d = res.get("density", {})
    ok = [(k, d[k]) for k in DENSITY if k in d and "pss_kib" in d[k]]
    if not ok:
        return None
    gp = gp_head(path, "Memory per idle instance (KiB, log scale)", 800, 520)
    gp += ("set style data histograms\nset style histogram clustered gap 1\n"
           "set style fill solid 0.8 border -1\nset logscale y\nset format y '%g'\n"
           "set ylabel 'KiB per idle instance'\nset yrange [1:*]\n")
    gp += "$d << EOD\n" + "".join(
        f"\"{e['label']}\" {e['pss_kib']} {max(e['kernel_kib'], 1)}\n" for k, e in ok) + "EOD\n"
    return gp + ("plot $d using 2:xtic(1) title 'PSS (user space)', "
                 "'' using 3 title 'kernel memory (approximate)'\n")


def plots(res, outdir):
    scripts = [(os.path.join(outdir, name + ".png"), cdf_plot(res, os.path.join(
        outdir, name + ".png"), title, pre)) for name, title, pre in PLOTS]
    scripts.append((os.path.join(outdir, "density.png"),
                    density_plot(res, os.path.join(outdir, "density.png"))))
    scripts.append((os.path.join(outdir, "overview.png"),
                    overview_plot(res, os.path.join(outdir, "overview.png"))))
    made = []
    for png, gp in scripts:
        if not gp:
            continue
        r = subprocess.run(["gnuplot"], input=gp, text=True, capture_output=True)
        if r.returncode:
            sys.stderr.write(f"report.py: gnuplot failed for {png}:\n{r.stderr}")
            return None
        made.append(png)
    return made


def update_readme(readme, table):
    begin, end = "<!-- bench-table -->", "<!-- /bench-table -->"
    with open(readme) as f:
        text = f.read()
    i, j = text.find(begin), text.find(end)
    if i < 0 or j < i:
        sys.stderr.write(f"report.py: {readme} has no {begin} ... {end}\n")
        return False
    text = text[:i + len(begin)] + "\n" + table + "\n" + text[j:]
    with open(readme, "w") as f:
        f.write(text)
    return True


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results")
    ap.add_argument("--no-plots", action="store_true", help="tables only")
    ap.add_argument("--readme", help="README.md to put the main table into")
    ap.add_argument("--image", help="where to copy overview.png")
    a = ap.parse_args()
    with open(a.results) as f:
        res = json.load(f)
    outdir = os.path.dirname(os.path.abspath(a.results))
    with open(os.path.join(outdir, "results.md"), "w") as f:
        f.write(full_table(res))
    table = f"{machine_line(res)}\n\n" + main_table(res)
    print("\n" + table + "\n")
    made = [] if a.no_plots else plots(res, outdir)
    if made is None:
        return 1
    print("report.py: wrote " + ", ".join(os.path.basename(p) for p in
                                          [os.path.join(outdir, "results.md")] + made))
    if a.readme and not update_readme(a.readme, table):
        return 1
    if a.image:
        ov = os.path.join(outdir, "overview.png")
        if ov not in made:
            sys.stderr.write("report.py: no overview.png to copy\n")
            return 1
        shutil.copyfile(ov, a.image)
    return 0


if __name__ == "__main__":
    sys.exit(main())
