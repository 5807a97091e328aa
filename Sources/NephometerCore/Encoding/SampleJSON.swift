/// `json.dumps(sample.as_dict())` written straight from a sample: the reference path builds the
/// `asDict` tree and writes it with `JSONWriter`; this one writes the fields in the same order and the
/// `resource_metadata` from the tree's shared rendering when it has one (`sharingRenderings()`), so a
/// compute instance's metadata is rendered once, not once per sample. Both give identical bytes
/// (`SampleJSONTests`).
extension Sample {
    public func writeJSON(into out: inout [UInt8]) {
        func key(_ k: StaticString) {
            out.append(UInt8(ascii: "\""))
            k.withUTF8Buffer { out.append(contentsOf: $0) }
            out.append(UInt8(ascii: "\""))
            out.append(UInt8(ascii: ":"))
            out.append(UInt8(ascii: " "))
        }
        func string(_ v: String) { JSONWriter.writeString(v, into: &out) }
        func optional(_ v: String?) { if let v { string(v) } else { out.append(contentsOf: "null".utf8) } }
        func comma() { out.append(UInt8(ascii: ",")); out.append(UInt8(ascii: " ")) }
        out.append(UInt8(ascii: "{"))
        key("name"); string(name); comma()
        key("type"); string(type.rawValue); comma()
        key("unit"); string(unit); comma()
        key("volume"); JSONWriter.writeNumber(volume, into: &out); comma()
        key("user_id"); optional(userID); comma()
        key("user_name"); optional(userName); comma()
        key("project_id"); optional(projectID); comma()
        key("project_name"); optional(projectName); comma()
        key("resource_id"); string(resourceID); comma()
        key("timestamp"); optional(timestamp); comma()
        key("resource_metadata")
        if resourceMetadata.renderings != nil { out.append(contentsOf: resourceMetadata.json) } else {
            JSONWriter.write(.object(resourceMetadata), into: &out)
        }
        comma()
        key("source"); string(source); comma()
        key("id"); string(id); comma()
        key("monotonic_time")
        if let m = monotonicTime { JSONWriter.writeNumber(.double(m), into: &out) } else { out.append(contentsOf: "null".utf8) }
        out.append(UInt8(ascii: "}"))
    }
}
