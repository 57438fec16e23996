/// Weights as safetensors: round trips, Keras names and layouts, rejection of bad files, checkpoints that resume training.
module Functional.Tests.SavingTests

open System
open System.Collections.Generic
open System.IO
open System.Security.Cryptography
open System.Text
open System.Text.Json.Nodes
open Expecto
open TorchSharp
open Functional.Layers
open Functional.Models
open Functional.Torch
open Functional.Torch.Building
open Functional.Training
open Functional.Torch.Data
open Functional.Torch.Training
open Functional.Torch.Formats
open Functional.Torch.Saving
open Functional.Tests.Support
open Functional.Tests.LossTests
open Functional.Tests.TrainingTests

let smallCnn () =
    Sequential(Input(8, 8, 1), Conv2D(4, (3, 3), padding = "same", activation = "relu"), MaxPooling2D((2, 2)), Flatten(), Dense(3, activation = "softmax"))

let withTemp (f: string -> unit) =
    let dir = Path.Combine(Path.GetTempPath(), "functional-save-" + Guid.NewGuid().ToString "N")
    Directory.CreateDirectory dir |> ignore
    try f dir finally Directory.Delete(dir, true)

let savedCnn (dir: string) =
    torchReady 30
    use net = BuiltNetwork.Build(smallCnn ())
    let path = Path.Combine(dir, "cnn.safetensors")
    net.SaveWeights path
    path

/// A safetensors file's JSON header (editable) and its data section.
let splitFile (bytes: byte[]) =
    let n = int (BitConverter.ToUInt64(bytes, 0))
    JsonNode.Parse(Encoding.UTF8.GetString(bytes, 8, n)).AsObject(), bytes.[8 + n ..]

/// A safetensors file from a header and a data section.
let joinFile (header: JsonObject) (data: byte[]) =
    let h = Encoding.UTF8.GetBytes(header.ToJsonString())
    Array.concat [ BitConverter.GetBytes(uint64 h.Length); h; data ]

/// A hand-made file: the length field, the header's UTF-8 bytes, then `dataLength` zero bytes.
let forge (header: string) (dataLength: int) =
    let h = Encoding.UTF8.GetBytes header
    Array.concat [ BitConverter.GetBytes(uint64 h.Length); h; Array.zeroCreate dataLength ]

/// The temporary files of saves in a folder.
let temporaries (dir: string) = Directory.GetFiles(dir, "*.tmp-*") |> Array.map Path.GetFileName |> Set.ofArray

[<Tests>]
let tests =
    testSequenced <| testList "Saving" [
        test "save → load → predict gives identical outputs" {
            withTemp (fun dir ->
                torchReady 31
                use x = torch.rand(5L, 8L, 8L, 1L)
                use a = BuiltNetwork.Build(smallCnn ())
                let path = Path.Combine(dir, "a.safetensors")
                a.SaveWeights path
                torch.manual_seed 1234L |> ignore
                use b = BuiltNetwork.Build(smallCnn ())
                use before = b.Predict(x)
                b.LoadWeights path
                use pa = a.Predict(x)
                use pb = b.Predict(x)
                Expect.isFalse (same pa before) "a different model before loading"
                Expect.isTrue (same pa pb) "identical after loading")
        }

        test "files use Keras's weight names and layouts (a Conv2D kernel is (kh, kw, in, out)) and hold no code" {
            withTemp (fun dir ->
                let file = SafeTensors.Read(savedCnn dir)
                let shapes = file.Tensors |> Seq.map (fun t -> t.Name, List.ofArray t.Shape) |> Map.ofSeq
                Expect.equal shapes.["conv2d/kernel"] [ 3L; 3L; 1L; 4L ] "Keras layout"
                Expect.equal shapes.["conv2d/bias"] [ 4L ] "bias"
                Expect.equal shapes.["dense/kernel"] [ 64L; 3L ] "dense"
                Expect.equal file.Metadata.["format"] "functional-weights" "metadata"
                Expect.isTrue (file.Tensors |> Seq.forall (fun t -> t.DType = "F32")) "plain float32 data")
        }

        test "a truncated file is rejected, naming the file and what is missing" {
            withTemp (fun dir ->
                let path = savedCnn dir
                let bytes = File.ReadAllBytes path
                use net = BuiltNetwork.Build(smallCnn ())
                for cut in [ 4; 200; bytes.Length - 10 ] do
                    let p = Path.Combine(dir, sprintf "cut%d.safetensors" cut)
                    File.WriteAllBytes(p, bytes.[0 .. cut - 1])
                    throwsWith<InvalidDataException> [ p; "truncated" ] (fun () -> net.LoadWeights p))
        }

        test "corrupt files are rejected with clear messages: header bytes, data bytes, lengths, not safetensors at all" {
            withTemp (fun dir ->
                let path = savedCnn dir
                let bytes = File.ReadAllBytes path
                use net = BuiltNetwork.Build(smallCnn ())
                let write name (b: byte[]) = let p = Path.Combine(dir, name) in File.WriteAllBytes(p, b); p
                // A flipped data byte: the recorded SHA-256 no longer matches.
                let flipped = Array.copy bytes
                flipped.[bytes.Length - 5] <- flipped.[bytes.Length - 5] ^^^ 0xFFuy
                throwsWith<InvalidDataException> [ "SHA-256" ] (fun () -> net.LoadWeights(write "flip.safetensors" flipped))
                // Damaged JSON.
                let badJson = Array.copy bytes
                badJson.[9] <- byte '#'
                throwsWith<InvalidDataException> [ "corrupt header" ] (fun () -> net.LoadWeights(write "json.safetensors" badJson))
                // A header length far beyond the file.
                let huge = Array.copy bytes
                BitConverter.GetBytes(5_000_000_000UL).CopyTo(huge, 0)
                throwsWith<InvalidDataException> [ "header length" ] (fun () -> net.LoadWeights(write "len.safetensors" huge))
                // Bytes appended after the last tensor.
                throwsWith<InvalidDataException> [ "belong to no tensor" ] (fun () -> net.LoadWeights(write "extra.safetensors" (Array.append bytes [| 1uy; 2uy; 3uy |])))
                // Not a safetensors file at all (a pickle starts with 0x80).
                throwsWith<InvalidDataException> [ "not a safetensors file" ] (fun () ->
                    net.LoadWeights(write "pickle.bin" (Array.append [| 0x80uy; 0x04uy; 0x95uy |] (Array.create 64 0x41uy))))
                // A hand-made header whose offsets disagree with the dtype and shape.
                let header = """{"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,12]}}"""
                let h = Encoding.UTF8.GetBytes header
                let forged = Array.concat [ BitConverter.GetBytes(uint64 h.Length); h; Array.zeroCreate 12 ]
                throwsWith<InvalidDataException> [ "'w'"; "(2, 2)"; "16 bytes"; "span 12" ] (fun () -> SafeTensors.Parse(forged, "forged") |> ignore))
        }

        test "mismatched weights are rejected before anything changes, naming the weight and both shapes" {
            withTemp (fun dir ->
                torchReady 32
                use small = BuiltNetwork.Build(Sequential(Input(4), Dense(8), Dense(3)))
                let path = Path.Combine(dir, "small.safetensors")
                small.SaveWeights path
                use wider = BuiltNetwork.Build(Sequential(Input(4), Dense(9), Dense(3)))
                let before = weightsOf wider
                throwsWith<InvalidDataException> [ "'dense/kernel'"; "(4, 8)"; "(4, 9)" ] (fun () -> wider.LoadWeights path)
                Expect.isTrue (sameWeights (weightsOf wider) before) "nothing was written"
                use deeper = BuiltNetwork.Build(Sequential(Input(4), Dense(8), Dense(3), Dense(2)))
                throwsWith<InvalidDataException> [ "lacks"; "'dense_2/kernel'" ] (fun () -> deeper.LoadWeights path)
                use shallower = BuiltNetwork.Build(Sequential(Input(4), Dense(8)))
                throwsWith<InvalidDataException> [ "does not have"; "'dense_1/kernel'" ] (fun () -> shallower.LoadWeights path)
                throwsWith<FileNotFoundException> [ "no-such" ] (fun () -> small.LoadWeights(Path.Combine(dir, "no-such.safetensors"))))
        }

        test "swapping two same-shaped tensors' header entries, or editing metadata, is detected: the hash covers the header" {
            withTemp (fun dir ->
                torchReady 35
                let twoLayers () = Sequential(Input(4), Dense(4), Dense(4))
                use net = BuiltNetwork.Build(twoLayers ())
                let path = Path.Combine(dir, "two.safetensors")
                net.SaveWeights path
                let swap (header: JsonObject) =
                    let a = header.["dense/kernel"].["data_offsets"].ToJsonString()
                    let b = header.["dense_1/kernel"].["data_offsets"].ToJsonString()
                    header.["dense/kernel"].["data_offsets"] <- JsonNode.Parse b
                    header.["dense_1/kernel"].["data_offsets"] <- JsonNode.Parse a
                let header, data = splitFile (File.ReadAllBytes path)
                swap header
                let swapped = Path.Combine(dir, "swapped.safetensors")
                File.WriteAllBytes(swapped, joinFile header data)
                use other = BuiltNetwork.Build(twoLayers ())
                let before = weightsOf other
                throwsWith<InvalidDataException> [ swapped; "SHA-256"; "header" ] (fun () -> other.LoadWeights swapped)
                Expect.isTrue (sameWeights (weightsOf other) before) "nothing was written"
                // A metadata value changed by hand.
                let header, data = splitFile (File.ReadAllBytes path)
                header.["__metadata__"].["model"] <- JsonValue.Create "renamed"
                let renamed = Path.Combine(dir, "renamed.safetensors")
                File.WriteAllBytes(renamed, joinFile header data)
                throwsWith<InvalidDataException> [ renamed; "SHA-256" ] (fun () -> SafeTensors.Read renamed |> ignore)
                // Without the integrity record (as from another tool) the same swap loads, swapped: the record is what detects it.
                let header, data = splitFile (File.ReadAllBytes path)
                header.["__metadata__"].AsObject().Remove "integrity" |> ignore
                swap header
                let foreign = Path.Combine(dir, "foreign.safetensors")
                File.WriteAllBytes(foreign, joinFile header data)
                other.LoadWeights foreign
                let w = weightsOf net |> Map.ofList
                let o = weightsOf other |> Map.ofList
                Expect.isTrue (same o.["dense/kernel"] w.["dense_1/kernel"] && same o.["dense_1/kernel"] w.["dense/kernel"]) "the kernels swapped")
        }

        test "files of the previous format (a SHA-256 of the data only) still load, and their data is still checked" {
            withTemp (fun dir ->
                torchReady 36
                use net = BuiltNetwork.Build(smallCnn ())
                let path = Path.Combine(dir, "new.safetensors")
                net.SaveWeights path
                let header, data = splitFile (File.ReadAllBytes path)
                let meta = header.["__metadata__"].AsObject()
                meta.Remove "integrity" |> ignore
                meta.["sha256"] <- JsonValue.Create(Convert.ToHexStringLower(SHA256.HashData data))
                let legacy = Path.Combine(dir, "legacy.safetensors")
                File.WriteAllBytes(legacy, joinFile header data)
                use other = BuiltNetwork.Build(smallCnn ())
                other.LoadWeights legacy
                Expect.isTrue (sameWeights (weightsOf other) (weightsOf net)) "loaded"
                let flipped = joinFile header data
                flipped.[flipped.Length - 3] <- flipped.[flipped.Length - 3] ^^^ 0x40uy
                let bad = Path.Combine(dir, "legacy-flipped.safetensors")
                File.WriteAllBytes(bad, flipped)
                throwsWith<InvalidDataException> [ bad; "data section's SHA-256" ] (fun () -> other.LoadWeights bad)
                // Saving again writes the new record.
                other.SaveWeights legacy
                Expect.isTrue ((SafeTensors.Read legacy).Metadata.ContainsKey "integrity") "upgraded")
        }

        test "hostile headers are rejected with InvalidDataException naming the file and the problem" {
            let t (offsets: string) = sprintf """{"dtype":"F32","shape":[4],"data_offsets":%s}""" offsets
            let invalidUtf8 =
                let b = forge (sprintf """{"wX":%s}""" (t "[0,16]")) 16
                b.[Array.IndexOf(b, byte 'X')] <- 0xFFuy
                b
            let cases =
                [ "invalid UTF-8", invalidUtf8, [ "UTF-8" ]
                  "offsets as strings", forge (sprintf """{"w":%s}""" (t """["0","16"]""")) 16, [ "'w'"; "data_offsets"; "integers" ]
                  "fractional offsets", forge (sprintf """{"w":%s}""" (t "[0,16.5]")) 16, [ "'w'"; "integers" ]
                  "negative offsets", forge (sprintf """{"w":%s}""" (t "[-16,0]")) 16, [ "'w'"; "non-negative" ]
                  "offsets out of order", forge """{"w":{"dtype":"F32","shape":[0],"data_offsets":[16,0]}}""" 16, [ "'w'"; "out of order" ]
                  "duplicate tensor keys", forge (sprintf """{"w":%s,"w":%s}""" (t "[0,16]") (t "[16,32]")) 32, [ "'w'"; "twice" ]
                  "duplicate metadata keys", forge (sprintf """{"__metadata__":{"a":"1","a":"2"},"w":%s}""" (t "[0,16]")) 16, [ "'a'"; "twice" ]
                  "duplicate __metadata__", forge """{"__metadata__":{},"__metadata__":{}}""" 0, [ "__metadata__"; "twice" ]
                  "duplicate field", forge """{"w":{"dtype":"F32","dtype":"I32","shape":[4],"data_offsets":[0,16]}}""" 16, [ "'dtype'"; "twice" ]
                  "overlapping tensors", forge (sprintf """{"a":%s,"b":%s}""" (t "[0,16]") (t "[8,24]")) 24, [ "overlaps" ]
                  "offsets past the data", forge (sprintf """{"a":%s}""" (t "[0,16]")) 8, [ "'a'"; "0..16"; "8 bytes" ]
                  "a gap", forge (sprintf """{"a":%s}""" (t "[8,24]")) 24, [ "gap" ]
                  "bytes after the last tensor", forge (sprintf """{"a":%s}""" (t "[0,16]")) 20, [ "4 bytes after the last tensor" ]
                  "negative dimension", forge """{"w":{"dtype":"F32","shape":[-4],"data_offsets":[0,16]}}""" 16, [ "'w'"; "dimension" ]
                  "overflowing shape", forge """{"w":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,16]}}""" 16, [ "'w'"; "impossibly large" ]
                  "dtype not a string", forge """{"w":{"dtype":4,"shape":[4],"data_offsets":[0,16]}}""" 16, [ "'w'"; "dtype" ]
                  "unknown dtype", forge """{"w":{"dtype":"F128","shape":[4],"data_offsets":[0,16]}}""" 16, [ "'F128'"; "not supported" ]
                  "entry not an object", forge """{"w":5}""" 0, [ "'w'"; "not an object" ]
                  "metadata not strings", forge """{"__metadata__":{"a":1}}""" 0, [ "'a'"; "not a string" ]
                  "a lone surrogate", forge (sprintf """{"\ud800":%s}""" (t "[0,16]")) 16, [ "corrupt header" ]
                  "too deep", forge """{"a":[[[[[[[[[[1]]]]]]]]]]}""" 0, [ "not valid JSON" ]
                  "root not an object", forge "[1]" 0, [ "does not start with '{'" ]
                  "malformed integrity record", forge """{"__metadata__":{"integrity":"sha256:xyz"}}""" 0, [ "integrity record"; "64 hex" ]
                  "malformed data hash", forge """{"__metadata__":{"sha256":"zz"}}""" 0, [ "'zz'"; "64 hex" ]
                  "absurd header length", Array.append (BitConverter.GetBytes UInt64.MaxValue) (Array.zeroCreate 16), [ "header length"; string UInt64.MaxValue ]
                  "header length beyond the file", Array.append (BitConverter.GetBytes 1000UL) (Encoding.UTF8.GetBytes "{}"), [ "truncated"; "1000" ]
                  "empty header", Array.zeroCreate 8, [ "does not start with '{'" ] ]
            for label, bytes, fragments in cases do
                try
                    SafeTensors.Parse(bytes, "forged.safetensors") |> ignore
                    failtestf "%s: accepted" label
                with
                | :? InvalidDataException as e ->
                    Expect.stringStarts e.Message "forged.safetensors: " (label + ": names the file")
                    for f in fragments do Expect.stringContains e.Message f (label + ": says what is wrong")
            // Through a file and into tensors, the same.
            withTemp (fun dir ->
                let p = Path.Combine(dir, "dup.safetensors")
                File.WriteAllBytes(p, forge (sprintf """{"w":%s,"w":%s}""" (t "[0,16]") (t "[16,32]")) 32)
                throwsWith<InvalidDataException> [ p; "twice" ] (fun () -> (SafeTensors.ReadTensors p).Dispose()))
        }

        test "a bad checkpoint is rejected before anything changes: the model and optimizer stay bit-identical" {
            withTemp (fun dir ->
                torchReady 37
                let x, y = toyData 16 37
                use net = BuiltNetwork.Build(mlp ())
                let model = net.Compile(Nadam(learningRate = 0.01), SparseCategoricalCrossentropy())
                model.Fit(x, y, batchSize = 8, epochs = 1, shuffle = false, verbose = quiet) |> ignore
                let good = Path.Combine(dir, "good.safetensors")
                model.SaveCheckpoint(good, 1)
                // The model moves on, so that the file's state differs from the model's.
                model.Fit(x, y, batchSize = 8, epochs = 1, shuffle = false, verbose = quiet) |> ignore
                let opt = model.Optimizer
                let stateOf () =
                    weightsOf net,
                    [ for s in opt.SlotNames do for i in 0 .. opt.Variables.Count - 1 -> opt.Slot(s, i).detach().cpu().clone() ],
                    opt.Iterations, opt.LearningRate, opt.ScalarState |> Seq.map (fun kv -> kv.Key, kv.Value) |> List.ofSeq
                let sameState (w1, s1, i1, l1, c1) (w2, s2, i2, l2, c2) =
                    sameWeights w1 w2 && List.forall2 same s1 s2 && i1 = i2 && l1 = l2 && c1 = c2
                let source = SafeTensors.Read good
                let rewrite name (edit: List<SafeTensor> -> Dictionary<string, string> -> unit) =
                    let tensors = List<SafeTensor>(source.Tensors)
                    let meta = Dictionary<string, string>(source.Metadata)
                    edit tensors meta
                    let p = Path.Combine(dir, name + ".safetensors")
                    SafeTensors.Write(p, tensors, meta)
                    p
                let setMeta k v = fun (_: List<SafeTensor>) (m: Dictionary<string, string>) -> m.[k] <- v
                let dropMeta (k: string) = fun (_: List<SafeTensor>) (m: Dictionary<string, string>) -> m.Remove k |> ignore
                let slotName = source.Tensors |> Seq.find (fun t -> t.Name.StartsWith "optimizer/dense/kernel/") |> fun t -> t.Name
                let mapTensor name (f: SafeTensor -> SafeTensor) = fun (ts: List<SafeTensor>) (_: Dictionary<string, string>) ->
                    let i = ts.FindIndex(fun t -> t.Name = name)
                    ts.[i] <- f ts.[i]
                let asInt32 (t: SafeTensor) = SafeTensor(t.Name, "I32", t.Shape, t.Data)
                let cases =
                    [ "lr-nan", setMeta "learning_rate" "NaN", [ "learning_rate='NaN'" ]
                      "lr-negative", setMeta "learning_rate" "-1", [ "learning_rate='-1'" ]
                      "lr-fast", setMeta "learning_rate" "fast", [ "learning_rate='fast'" ]
                      "lr-missing", dropMeta "learning_rate", [ "lacks 'learning_rate'" ]
                      "state-unparseable", setMeta "optimizer_state/u_product" "0.5x", [ "optimizer_state/u_product='0.5x'" ]
                      "state-infinite", setMeta "optimizer_state/u_product" "Infinity", [ "optimizer_state/u_product='Infinity'" ]
                      "state-missing", dropMeta "optimizer_state/u_product", [ "optimizer_state/u_product"; "lacks" ]
                      "state-unknown", setMeta "optimizer_state/momentum_cache" "1", [ "optimizer_state/momentum_cache"; "not state of Nadam" ]
                      "iterations-negative", setMeta "iterations" "-3", [ "iterations='-3'" ]
                      "iterations-fraction", setMeta "iterations" "1.5", [ "iterations='1.5'" ]
                      "epoch-negative", setMeta "epoch" "-1", [ "epoch='-1'" ]
                      "epoch-too-large", setMeta "epoch" "99999999999", [ "epoch='99999999999'" ]
                      "epoch-missing", dropMeta "epoch", [ "lacks 'epoch'" ]
                      "other-optimizer", setMeta "optimizer" "Adam", [ "Adam"; "Nadam" ]
                      "not-a-checkpoint", setMeta "format" "functional-weights", [ "not a training checkpoint" ]
                      "weight-dtype", mapTensor "weights/dense/kernel" asInt32, [ "'dense/kernel'"; "I32" ]
                      "weight-shape", mapTensor "weights/dense/kernel" (fun t -> SafeTensor(t.Name, t.DType, [| 16L; 4L |], t.Data)), [ "'dense/kernel'"; "(16, 4)"; "(4, 16)" ]
                      "slot-dtype", mapTensor slotName asInt32, [ slotName; "I32" ]
                      "slot-shape", mapTensor slotName (fun t -> SafeTensor(t.Name, t.DType, [| 64L |], t.Data)), [ slotName; "(64,)" ]
                      "slot-missing", (fun ts _ -> ts.RemoveAll(fun t -> t.Name = slotName) |> ignore), [ "missing optimizer state"; slotName ]
                      "slot-extra", (fun ts _ -> ts.Add(SafeTensor("optimizer/ghost/kernel/momentum", "F32", [| 1L |], Array.zeroCreate 4))), [ "ghost" ]
                      "weight-extra", (fun ts _ -> ts.Add(SafeTensor("weights/ghost/kernel", "F32", [| 1L |], Array.zeroCreate 4))), [ "does not have"; "ghost" ]
                      "tensor-extra", (fun ts _ -> ts.Add(SafeTensor("extra", "F32", [| 1L |], Array.zeroCreate 4))), [ "unexpected tensors"; "extra" ] ]
                let before = stateOf ()
                for name, edit, fragments in cases do
                    let p = rewrite name edit
                    throwsWith<InvalidDataException> (p :: fragments) (fun () -> model.LoadCheckpoint p |> ignore)
                    Expect.isTrue (sameState (stateOf ()) before) (name + ": the model and the optimizer are unchanged")
                // Edited by hand, without a new hash: the integrity record covers the metadata.
                let bytes = File.ReadAllBytes good
                let text = Encoding.Latin1.GetString bytes
                let at = text.IndexOf "\"learning_rate\":\"0.01\""
                Expect.isGreaterThan at 0 "the learning rate is in the header"
                Encoding.Latin1.GetBytes("\"learning_rate\":\"0.02\"").CopyTo(bytes, at)
                let hand = Path.Combine(dir, "hand.safetensors")
                File.WriteAllBytes(hand, bytes)
                throwsWith<InvalidDataException> [ hand; "SHA-256" ] (fun () -> model.LoadCheckpoint hand |> ignore)
                Expect.isTrue (sameState (stateOf ()) before) "hand-edited: the model and the optimizer are unchanged"
                // The rewriting itself makes loadable checkpoints: the rejections above are the bad values' doing.
                let control = rewrite "control" (fun _ _ -> ())
                Expect.equal (model.LoadCheckpoint control) 1 "the epoch"
                Expect.isFalse (sameState (stateOf ()) before) "a good checkpoint does change the state"
                Expect.equal opt.Iterations 2L "the step count of the checkpoint (1 epoch × 2 steps)"
                throwsWith<ArgumentOutOfRangeException> [ "epoch" ] (fun () -> model.SaveCheckpoint(Path.Combine(dir, "neg.safetensors"), -1)))
        }

        test "saving streams any layout in row-major order: transposed, permuted, rows over a chunk, half precision, scalars, empty" {
            withTemp (fun dir ->
                torchReady 39
                let contiguousBytes (t: torch.Tensor) =
                    if t.numel() = 0L then [||]
                    else t.contiguous().data<float32>().ToArray() |> Array.collect BitConverter.GetBytes
                let wide = torch.randn(300000L, 2L)
                let cases =
                    [ "transposed, rows over a chunk", wide.t()                      // (2, 300000), 1.2 MB rows, stride 2
                      "permuted", torch.randn(3L, 4L, 5L).permute(2L, 0L, 1L)
                      "sliced", torch.randn(10L, 10L).narrow(1L, 2L, 5L)
                      "contiguous", torch.randn(7L, 3L)
                      "scalar", torch.tensor(2.5f)
                      "empty", torch.zeros(0L, 4L) ]
                let path = Path.Combine(dir, "layouts.safetensors")
                SafeTensors.WriteTensors(path, cases |> List.map (fun (n, t) -> struct (n, t)))
                let file = SafeTensors.Read path
                for name, t in cases do
                    let stored = file.Find name
                    Expect.equal (List.ofArray stored.Shape) (List.ofArray t.shape) name
                    Expect.equal stored.Data (contiguousBytes t) (name + ": row-major bytes")
                // Half precision is widened to F32 exactly; reading into tensors gives them back.
                let half = torch.randn(5L, 6L).to_type(torch.ScalarType.Float16).t()
                let hpath = Path.Combine(dir, "half.safetensors")
                SafeTensors.WriteTensors(hpath, [ "h", half ])
                use back = SafeTensors.ReadTensors hpath
                let h = back.Find "h"
                Expect.equal h.DType "F32" "widened"
                Expect.isTrue (same (h.Value.to_type(torch.ScalarType.Float16)) (half.contiguous())) "exact")
        }

        test "a failed save leaves no temporary file, and the next save removes those a killed save left" {
            withTemp (fun dir ->
                torchReady 38
                use net = BuiltNetwork.Build(smallCnn ())
                // The target is a folder: the temporary file is written in full, then cannot be put in place.
                let blocked = Path.Combine(dir, "blocked.safetensors")
                Directory.CreateDirectory blocked |> ignore
                throwsWith<IOException> [ blocked ] (fun () -> net.SaveWeights blocked)
                Expect.isEmpty (temporaries dir) "no temporary file after a failed save"
                let model = net.Compile(Adam(), SparseCategoricalCrossentropy())
                throwsWith<IOException> [ blocked ] (fun () -> model.SaveCheckpoint(blocked, 1))
                Expect.isEmpty (temporaries dir) "no temporary file after a failed checkpoint"
                // Leftovers: a killed save of the target (old, held by no one) goes; a save in progress (held open), a fresh
                // file, another target's and a name that is not a save's stay.
                let target = Path.Combine(dir, "w.safetensors")
                let temp name = Path.Combine(dir, name + ".tmp-" + Guid.NewGuid().ToString "N")
                let old (p: string) =
                    File.WriteAllText(p, "partial")
                    File.SetLastWriteTimeUtc(p, DateTime.UtcNow.AddHours -1.0)
                    p
                let killed = old (temp "w.safetensors")
                let running = old (temp "w.safetensors")
                let fresh = temp "w.safetensors"
                File.WriteAllText(fresh, "partial")
                let otherTarget = old (temp "x.safetensors")
                let notASave = old (Path.Combine(dir, "w.safetensors.tmp-notaguid"))
                let saveWhileHeld () =
                    use _held = new FileStream(running, FileMode.Open, FileAccess.ReadWrite, FileShare.None)
                    net.SaveWeights target
                saveWhileHeld ()
                Expect.isFalse (File.Exists killed) "the killed save's file is removed"
                for p in [ running; fresh; otherTarget; notASave ] do
                    Expect.isTrue (File.Exists p) (Path.GetFileName p + " stays")
                use other = BuiltNetwork.Build(smallCnn ())
                other.LoadWeights target
                Expect.isTrue (sameWeights (weightsOf other) (weightsOf net)) "the save itself is whole")
        }

        test "a checkpoint with the optimizer's state resumes training: the loss curve continues as if never stopped" {
            withTemp (fun dir ->
                let x, y = toyData 32 33
                let train (seed: int64) (epochs: int) (initial: int) (resumeFrom: string option) (saveTo: string option) =
                    torch.manual_seed seed |> ignore
                    use net = BuiltNetwork.Build(mlp ())
                    let model = net.Compile(Adam(learningRate = 0.01), SparseCategoricalCrossentropy(), [| "accuracy" |])
                    let start = match resumeFrom with Some p -> model.LoadCheckpoint p | None -> initial
                    let h = model.Fit(x, y, batchSize = 8, epochs = epochs, initialEpoch = start, shuffle = false, verbose = quiet)
                    saveTo |> Option.iter (fun p -> model.SaveCheckpoint(p, epochs))
                    List.ofSeq h.["loss"], model.Optimizer.Iterations
                let straight, _ = train 77L 6 0 None None
                let ckpt = Path.Combine(dir, "ckpt.safetensors")
                let firstHalf, _ = train 77L 3 0 None (Some ckpt)
                // The resumed model starts from other random weights; the checkpoint replaces them and the optimizer state.
                let secondHalf, iterations = train 5L 6 0 (Some ckpt) None
                Expect.equal firstHalf straight.[0..2] "first half"
                Expect.equal secondHalf.Length 3 "epochs 4 to 6"
                List.iteri2 (fun i a b -> close 1e-6 a b (sprintf "epoch %d continues" (i + 4))) secondHalf straight.[3..5]
                Expect.equal iterations 24L "the step count continued (6 epochs × 4 steps)")
        }

        test "a checkpoint is refused by a model compiled with another optimizer, and weights-only files are not checkpoints" {
            withTemp (fun dir ->
                torchReady 34
                use net = BuiltNetwork.Build(mlp ())
                let model = net.Compile(Adam(), SparseCategoricalCrossentropy())
                let ckpt = Path.Combine(dir, "c.safetensors")
                model.SaveCheckpoint(ckpt, 1)
                use other = BuiltNetwork.Build(mlp ())
                let sgd = other.Compile(SGD(momentum = 0.9), SparseCategoricalCrossentropy())
                throwsWith<InvalidDataException> [ "Adam"; "SGD" ] (fun () -> sgd.LoadCheckpoint ckpt |> ignore)
                let weights = Path.Combine(dir, "w.safetensors")
                net.SaveWeights weights
                throwsWith<InvalidDataException> [ "not a training checkpoint" ] (fun () -> model.LoadCheckpoint weights |> ignore)
                // LoadWeights accepts a checkpoint's weights.
                other.LoadWeights ckpt
                Expect.isTrue (sameWeights (weightsOf other) (weightsOf net)) "weights from a checkpoint")
        }
    ]
