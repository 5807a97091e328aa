"""Ceilometer 27's Gnocchi publisher, timed: ceilometer.publisher.gnocchi.GnocchiPublisher, built from a
ceilometer.conf ([service_credentials] for Keystone) and a gnocchi:// URL, fed batches of samples as the
notification agent feeds it.

usage: python ceilometer_gnocchi_publish.py CEILOMETER_CONF SAMPLES_JSON BATCH URL WARMUP
The first WARMUP samples are published untimed (resources created, caches filled). Prints one JSON line.
"""
import json
import resource
import sys
import time
from urllib import parse as urlparse

from ceilometer import sample as sample_mod, service
from ceilometer.publisher import gnocchi


def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main():
    conf_file, samples_file, batch, url, warmup = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
    conf = service.prepare_service(argv=["bench", "--config-file", conf_file])
    publisher = gnocchi.GnocchiPublisher(conf, urlparse.urlparse(url))
    samples = [sample_mod.Sample(name=d["name"], type=d["type"], unit=d["unit"], volume=d["volume"],
                                 user_id=d["user_id"], project_id=d["project_id"], resource_id=d["resource_id"],
                                 timestamp=d["timestamp"], resource_metadata=d["resource_metadata"],
                                 source=d["source"], id=d["id"])
               for d in json.load(open(samples_file))]
    for i in range(0, warmup, batch):
        publisher.publish_samples(samples[i:i + batch])
    timed = samples[warmup:]
    t0, c0 = time.monotonic(), cpu()
    for i in range(0, len(timed), batch):
        publisher.publish_samples(timed[i:i + batch])
    t1, c1 = time.monotonic(), cpu()
    print(json.dumps({"samples": len(timed), "seconds": t1 - t0, "cpu_seconds": c1 - c0}))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
