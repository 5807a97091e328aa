import Crypto
import NephometerCore

/// Encodes a sample as Ceilometer's UDP publisher does: `msgpack.dumps(meter_message_from_counter(s,
/// secret), use_bin_type=True)`.
public enum MeterMessageEncoder {
    public static func datagram(_ s: Sample, secret: String) throws(MsgPackEncoder.Unencodable) -> [UInt8] {
        try MsgPackEncoder.encode(.object(MeterMessage.signed(s, secret: secret)))
    }
}
