#!/usr/bin/env python3
"""Issue 18: what gettext costs `ektpd status`: the human table under LANG=C and LANG=id_ID.UTF-8,
interleaved, against a running demo daemon (release build). Prints the medians and p90s.

    swift build -c release --product ektpd --scratch-path .build-release && scripts/l10n.sh --compile
    python3 Benchmarks/l10n_cost.py [RUNS]
"""
import os, subprocess, statistics, time, sys
ROOT=os.path.dirname(os.path.dirname(os.path.abspath(__file__))); B=ROOT+"/.build-release/release/ektpd"
import tempfile; d=tempfile.mkdtemp(prefix="ektp-l10n-cost-")
cfg=open(ROOT+"/examples/ektpd-demo.yaml").read().replace("/tmp/ektpd-demo", d).replace("../scenarios/demo-kit.yaml", ROOT+"/scenarios/demo-kit.yaml")
open(d+"/ektpd.yaml","w").write(cfg)
p=subprocess.Popen([B,"run","--config",d+"/ektpd.yaml"],stderr=subprocess.DEVNULL)
sock=d+"/control.sock"
for _ in range(100):
    if os.path.exists(sock): break
    time.sleep(0.1)
time.sleep(1)
env_c=dict(os.environ, LANG="C", LANGUAGE="", LC_ALL="", EKTP_LOCALEDIR=ROOT+"/.build/locale")
env_id=dict(os.environ, LANG="id_ID.UTF-8", LANGUAGE="", LC_ALL="", EKTP_LOCALEDIR=ROOT+"/.build/locale")
res={"C":[], "id":[]}
n=int(sys.argv[1]) if len(sys.argv)>1 else 200
for i in range(n):
    for k,e in (("C",env_c),("id",env_id)):
        t=time.perf_counter(); subprocess.run([B,"status","--socket",sock],env=e,stdout=subprocess.DEVNULL); res[k].append((time.perf_counter()-t)*1000)
p.terminate(); p.wait()
for k,v in res.items():
    v.sort(); print(k, "median %.2f ms p90 %.2f ms" % (statistics.median(v), v[int(len(v)*0.9)]))
