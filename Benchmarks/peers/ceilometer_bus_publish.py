"""Ceilometer 27's own polling publish path, timed: the same Notifier ceilometer-polling builds
(oslo.messaging messagingv2, publisher_id ceilometer.polling), meter_message_from_counter for each
sample, one notifier.sample() per batch (confirmed one by one by oslo's rabbit driver).

usage: python ceilometer_bus_publish.py CEILOMETER_CONF SAMPLES_JSON BATCH
SAMPLES_JSON is a list of Sample.as_dict() objects. Prints one JSON line: samples, seconds, cpu_seconds.
"""
import json
import resource
import sys
import time

import oslo_messaging
from ceilometer import messaging, sample as sample_mod, service
from ceilometer.publisher import utils


def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main():
    conf_file, samples_file, batch = sys.argv[1], sys.argv[2], int(sys.argv[3])
    conf = service.prepare_service(argv=["bench", "--config-file", conf_file])
    notifier = oslo_messaging.Notifier(messaging.get_transport(conf),
                                       driver=conf.publisher_notifier.telemetry_driver,
                                       publisher_id="ceilometer.polling")
    secret = conf.publisher.telemetry_secret
    samples = [sample_mod.Sample(name=d["name"], type=d["type"], unit=d["unit"], volume=d["volume"],
                                 user_id=d["user_id"], project_id=d["project_id"], resource_id=d["resource_id"],
                                 timestamp=d["timestamp"], resource_metadata=d["resource_metadata"],
                                 source=d["source"], id=d["id"], monotonic_time=d.get("monotonic_time"))
               for d in json.load(open(samples_file))]
    # One warm-up publish (connection, declarations), not timed.
    notifier.sample({}, "telemetry.polling", {"samples": [utils.meter_message_from_counter(samples[0], secret)]})
    t0, c0 = time.monotonic(), cpu()
    for i in range(0, len(samples), batch):
        msgs = [utils.meter_message_from_counter(s, secret) for s in samples[i:i + batch]]
        notifier.sample({}, "telemetry.polling", {"samples": msgs})
    t1, c1 = time.monotonic(), cpu()
    print(json.dumps({"samples": len(samples), "seconds": t1 - t0, "cpu_seconds": c1 - c0}))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
