/// Hostile Keras files: archives whose entries escape their folder, zip bombs, duplicate or missing entries, malformed and
/// deeply nested JSON, code (Lambda) and unknown classes, HDF5 files truncated at many offsets or with bytes flipped by a
/// seeded RNG, datasets whose declared shape is huge or wrong, wrong dtypes. Every case must end as an
/// InvalidDataException naming the file (and, in its Data, the object) — never another exception, a crash, a hang (each
/// load runs under a timeout) or a large allocation (the managed bytes a load allocates are measured and bounded).
module Functional.Tests.HostileKerasFileTests

open System
open System.IO
open System.IO.Compression
open System.Threading.Tasks
open Expecto
open PureHDF
open Functional.Layers
open Functional.Models
open Functional.Torch.Building
open Functional.Torch.Saving
open Functional.Tests.ExampleScriptTests

/// The most managed memory one load of a hostile file may allocate.
let private maxAllocation = 64L * 1024L * 1024L

/// The longest one load of a hostile file may take.
let private timeout = TimeSpan.FromSeconds 30.0

type private Outcome =
    | Loaded
    | Refused of InvalidDataException
    | Escaped of exn

/// Runs `load` on its own thread under the timeout, measuring the managed bytes it allocates.
let private attempt (load: unit -> unit) =
    let task =
        Task.Run(fun () ->
            let before = GC.GetAllocatedBytesForCurrentThread()
            let outcome =
                try load (); Loaded
                with
                | :? InvalidDataException as e -> Refused e
                | e -> Escaped e
            outcome, GC.GetAllocatedBytesForCurrentThread() - before)
    if not (task.Wait timeout) then failtestf "the load did not end within %O (a hang)" timeout
    task.Result

/// The load of `path` ends well: refused as an InvalidDataException naming the file, or (`mayLoad`) loaded; in bounded
/// time and memory either way.
let private expectContained (what: string) (path: string) (mayLoad: bool) (load: unit -> unit) =
    let outcome, allocated = attempt load
    Expect.isLessThan allocated maxAllocation (sprintf "%s: managed bytes allocated by the load" what)
    match outcome with
    | Refused e ->
        Expect.stringContains e.Message (Path.GetFileName path) (sprintf "%s: the error names the file" what)
        Expect.equal e.Data[KerasH5.FileKey] (box path) (sprintf "%s: the error carries the file" what)
        e
    | Loaded when mayLoad -> null
    | Loaded -> failtestf "%s: loaded, but must be refused" what
    | Escaped e -> failtestf "%s: %s escaped instead of an InvalidDataException: %s" what (e.GetType().FullName) e.Message

let private refused (what: string) (path: string) (load: unit -> unit) = expectContained what path false load

let private tempDir () =
    let dir = Path.Combine(Path.GetTempPath(), "functional-hostile-" + Guid.NewGuid().ToString("N"))
    Directory.CreateDirectory dir |> ignore
    dir

let private withDir (f: string -> unit) =
    let dir = tempDir ()
    try f dir finally (try Directory.Delete(dir, true) with _ -> ())

/// A zip archive of (entry name, bytes, compressed?).
let private writeZip (path: string) (entries: (string * byte[] * bool) list) =
    use stream = File.Create path
    use zip = new ZipArchive(stream, ZipArchiveMode.Create)
    for name, bytes, compress in entries do
        let entry = zip.CreateEntry(name, if compress then CompressionLevel.Optimal else CompressionLevel.NoCompression)
        use s = entry.Open()
        s.Write(bytes, 0, bytes.Length)

let private utf8 (s: string) = Text.Encoding.UTF8.GetBytes s

let private denseConfig =
    """{"module": "keras", "class_name": "Sequential", "config": {"name": "s", "layers": [
         {"class_name": "InputLayer", "config": {"batch_shape": [null, 3], "name": "in"}},
         {"class_name": "Dense", "config": {"name": "d", "units": 2}}]}}"""

let private metadata = """{"keras_version": "3.15.0", "date_saved": "2026-01-01@00:00:00"}"""

/// A small network the HDF5 weight cases load into: Dense(2) on 3 features.
let private denseNet () = BuiltNetwork.Build(Sequential([| Input(3) :> Layer; Dense(2, Name = "d") |]))

/// A Keras 2 weights file for denseNet with the kernel dataset replaced by `kernel`.
let private weightsFile (path: string) (kernel: obj) =
    let f = H5File()
    f.Attributes["layer_names"] <- [| "d" |]
    let g = H5Group()
    g.Attributes["weight_names"] <- [| "d/kernel:0"; "d/bias:0" |]
    let sub = H5Group()
    sub["kernel:0"] <- kernel
    sub["bias:0"] <- H5Dataset([| 0.5f; -0.5f |], fileDims = [| 2UL |])
    g["d"] <- sub
    f["d"] <- g
    f.Write path

let private fixturesDir () = Path.GetFullPath(Path.Combine(repoRoot (), "..", "shared", "keras-fixtures"))

let private fixture (folder: string) (file: string) =
    let dir = fixturesDir ()
    if not (Directory.Exists dir) then skiptestf "the Keras fixtures are not at %s (they live in shared/, outside the repository)" dir
    Path.Combine(dir, folder, file)

/// Offsets to cut a file of `length` bytes at: the first bytes (signature, superblock), then spread over the whole file.
let private cuts (length: int) =
    [ 0; 1; 7; 8; 16; 48; 96; 200; 512; 1024 ] @ [ for i in 1 .. 47 -> length * i / 48 ] @ [ length - 1 ]
    |> List.filter (fun n -> n >= 0 && n < length) |> List.distinct

/// The file's bytes with `count` bytes replaced by random ones, for each of `variants` seeds.
let private flips (bytes: byte[]) (variants: int) =
    [ for seed in 1 .. variants ->
        let rng = Random(seed)
        let copy = Array.copy bytes
        for _ in 1 .. 1 + rng.Next 8 do copy[rng.Next copy.Length] <- byte (rng.Next 256)
        seed, copy ]

[<Tests>]
let tests =
    testList "Hostile Keras files" [
        testList "archives" [
            test "an entry with '..' or an absolute path is refused, naming the entry" {
                withDir (fun dir ->
                    for bad in [ "../evil.json"; "assets/../../evil.json"; "/etc/evil.json"; "C:/evil.json"; "\\evil.json" ] do
                        let path = Path.Combine(dir, "escape.keras")
                        writeZip path [ "metadata.json", utf8 metadata, false; "config.json", utf8 denseConfig, false; bad, utf8 "x", false ]
                        let e = refused bad path (fun () -> KerasH5.LoadDeclaration path |> ignore)
                        Expect.stringContains e.Message bad "the entry is named"
                        Expect.stringContains e.Message "outside the archive" "says why")
            }

            test "a duplicate entry is refused, naming it" {
                withDir (fun dir ->
                    let path = Path.Combine(dir, "dup.keras")
                    writeZip path [ "config.json", utf8 denseConfig, false; "config.json", utf8 denseConfig, false ]
                    let e = refused "duplicate config.json" path (fun () -> KerasH5.LoadDeclaration path |> ignore)
                    Expect.stringContains e.Message "more than once" "says why")
            }

            test "a zip bomb (an entry inflating far beyond its compressed size) is refused before it is inflated" {
                withDir (fun dir ->
                    let path = Path.Combine(dir, "bomb.keras")
                    writeZip path [ "config.json", utf8 denseConfig, false; "model.weights.h5", Array.zeroCreate (48 * 1024 * 1024), true ]
                    Expect.isLessThan (FileInfo(path).Length) (1L <<< 20) "the archive itself is small"
                    use net = denseNet ()
                    let e = refused "zip bomb" path (fun () -> net.LoadWeights path)
                    Expect.stringContains e.Message "zip bomb" "says why"
                    Expect.stringContains e.Message "model.weights.h5" "names the entry")
            }

            test "an entry whose declared size lies is refused, not followed" {
                withDir (fun dir ->
                    let path = Path.Combine(dir, "lie.keras")
                    let payload = utf8 (denseConfig + String(' ', 4000))
                    writeZip path [ "config.json", payload, false ]
                    // Patch the uncompressed size (local header offset 22, central directory offset 24 from its signature) to 100.
                    let bytes = File.ReadAllBytes path
                    let patch (at: int) = BitConverter.GetBytes(100u).CopyTo(bytes, at)
                    patch 22
                    let central = [ 0 .. bytes.Length - 4 ] |> List.find (fun i -> bytes[i] = 0x50uy && bytes[i + 1] = 0x4Buy && bytes[i + 2] = 1uy && bytes[i + 3] = 2uy)
                    patch (central + 24)
                    File.WriteAllBytes(path, bytes)
                    refused "size lie" path (fun () -> KerasH5.LoadDeclaration path |> ignore) |> ignore)
            }

            test "a missing config.json, malformed or deeply nested JSON, a Lambda and an unknown class are refused" {
                withDir (fun dir ->
                    let cases =
                        [ "no config", [ "metadata.json", utf8 metadata, false ], "config.json"
                          "truncated JSON", [ "config.json", utf8 (denseConfig.Substring(0, 120)), false ], "config"
                          "not JSON", [ "config.json", [| 0xFFuy; 0xFEuy; 0uy; 1uy |], false ], "config"
                          "deep JSON", [ "config.json", utf8 (String('[', 100000) + String(']', 100000)), true ], "depth"
                          "Lambda",
                          [ "config.json", utf8 (denseConfig.Replace("\"Dense\", \"config\": {\"name\": \"d\", \"units\": 2}",
                                                                     "\"Lambda\", \"config\": {\"name\": \"d\", \"function\": {\"class_name\": \"__lambda__\", \"config\": {\"code\": \"4wEAAAAAAAAA\"}}}")), false ],
                          "arbitrary code execution"
                          "unknown class", [ "config.json", utf8 (denseConfig.Replace("\"Dense\"", "\"EvilLayer\"")), false ], "EvilLayer" ]
                    for what, entries, needle in cases do
                        let path = Path.Combine(dir, "case.keras")
                        writeZip path entries
                        let e = refused what path (fun () -> KerasH5.LoadModel(path).Dispose())
                        Expect.stringContains e.Message needle (sprintf "%s: says what" what)
                        Expect.isNotNull e.Data[KerasH5.ObjectKey] (sprintf "%s: names the object" what))
            }

            test "a real .keras archive truncated at many offsets and with bytes flipped is refused or loads, never worse" {
                let source = fixture "k3-nested-subclassed" "pre_pr22362_nested_container.keras"
                let bytes = File.ReadAllBytes source
                let dense units bias = Dense(units, useBias = bias) :> Layer
                use net = BuiltNetwork.Build(Sequential([| Input(4) :> Layer; dense 4 false; dense 4 false; dense 4 false; dense 2 true |]))
                withDir (fun dir ->
                    let path = Path.Combine(dir, "hostile.keras")
                    for n in cuts bytes.Length do
                        File.WriteAllBytes(path, bytes[.. n - 1])
                        expectContained (sprintf "cut at %d" n) path false (fun () -> net.LoadKerasWeights path) |> ignore
                    for seed, copy in flips bytes 100 do
                        File.WriteAllBytes(path, copy)
                        expectContained (sprintf "flip seed %d" seed) path true (fun () -> net.LoadKerasWeights path) |> ignore)
            }
        ]

        testList "HDF5" [
            test "legacy full models truncated at many offsets are refused, naming the file" {
                for folder, file in [ "dl4j-dense-relu", "ReLU_0_model.h5"; "dl4j-keras1-lstm", "simple_lstm_tf_keras_1_model.h5"; "dl4j-tfkeras-functional", "rnn_109.h5" ] do
                    let bytes = File.ReadAllBytes(fixture folder file)
                    withDir (fun dir ->
                        let path = Path.Combine(dir, file)
                        for n in cuts bytes.Length do
                            File.WriteAllBytes(path, bytes[.. n - 1])
                            // HDF5 keeps some bytes no object needs: a cut there may still load.
                            expectContained (sprintf "%s cut at %d of %d" file n bytes.Length) path true (fun () -> KerasH5.LoadModel(path).Dispose()) |> ignore)
            }

            test "legacy files with bytes flipped by a seeded RNG are refused or load, never worse" {
                for folder, file in [ "dl4j-dense-relu", "ReLU_0_model.h5"; "hls4ml-tfkeras211-conv1d-gru", "dense_streaming_keras_model.keras"; "dl4j-keras1-lstm", "simple_lstm_tf_keras_1_model.h5"; "dl4j-cnn-batchnorm", "cnn_batch_norm.h5" ] do
                    let bytes = File.ReadAllBytes(fixture folder file)
                    withDir (fun dir ->
                        let path = Path.Combine(dir, file)
                        for seed, copy in flips bytes 200 do
                            File.WriteAllBytes(path, copy)
                            expectContained (sprintf "%s flip seed %d" file seed) path true (fun () -> KerasH5.LoadModel(path).Dispose()) |> ignore)
            }

            test "a weights-only file truncated at many offsets leaves the model as it was" {
                let bytes = File.ReadAllBytes(fixture "dl4j-dense-relu" "ReLU_0_weights.h5")
                use net = BuiltNetwork.Build(Sequential([| Input(16) :> Layer; Dense(32, Name = "dense"); ReLU() |]))
                use before = (Seq.head net.Weights).KerasView().clone()
                withDir (fun dir ->
                    let path = Path.Combine(dir, "w.h5")
                    for n in cuts bytes.Length do
                        File.WriteAllBytes(path, bytes[.. n - 1])
                        match expectContained (sprintf "cut at %d" n) path true (fun () -> net.LoadKerasWeights path) with
                        | null -> ()
                        | _ ->
                            use now = (Seq.head net.Weights).KerasView()
                            Expect.isTrue (now.allclose(before, 0.0, 0.0)) (sprintf "cut at %d: a refused load changes nothing" n))
            }

            test "a dataset whose declared shape is huge or not the layer's is refused before it is read" {
                withDir (fun dir ->
                    use net = denseNet ()
                    let huge = Path.Combine(dir, "huge.h5")
                    // The kernel's dataspace patched from (3, 2) to (2^40, 2): the reader must not allocate for the declaration.
                    weightsFile huge (H5Dataset([| 1.0f; 2.0f; 3.0f; 4.0f; 5.0f; 6.0f |], fileDims = [| 3UL; 2UL |]))
                    let bytes = File.ReadAllBytes huge
                    let dims = Array.append (BitConverter.GetBytes 3UL) (BitConverter.GetBytes 2UL)
                    let mutable patched = 0
                    for i in 0 .. bytes.Length - dims.Length do
                        if bytes.AsSpan(i, dims.Length).SequenceEqual(ReadOnlySpan dims) then
                            BitConverter.GetBytes(1UL <<< 40).CopyTo(bytes, i)
                            patched <- patched + 1
                    Expect.isGreaterThan patched 0 "the dataspace was found"
                    File.WriteAllBytes(huge, bytes)
                    let e = refused "huge shape" huge (fun () -> net.LoadKerasWeights huge)
                    Expect.stringContains e.Message "1099511627776" "the declared shape is named"
                    Expect.stringContains e.Message "d/kernel:0" "the dataset is named"
                    let wrong = Path.Combine(dir, "wrong.h5")
                    weightsFile wrong (H5Dataset(Array.zeroCreate<float32> 8, fileDims = [| 4UL; 2UL |]))
                    let e = refused "wrong shape" wrong (fun () -> net.LoadKerasWeights wrong)
                    Expect.stringContains e.Message "(3, 2)" "the layer's shape is named"
                    Expect.stringContains e.Message "(4, 2)" "the file's shape is named")
            }

            test "a dataset of the wrong kind of data (text, 2-byte integers) is refused naming it" {
                withDir (fun dir ->
                    use net = denseNet ()
                    for what, kernel in [ "text", box (H5Dataset(Array.create 6 "x", fileDims = [| 3UL; 2UL |]))
                                          "int16", box (H5Dataset(Array.create 6 1s, fileDims = [| 3UL; 2UL |])) ] do
                        let path = Path.Combine(dir, what + ".h5")
                        weightsFile path kernel
                        let e = refused what path (fun () -> net.LoadKerasWeights path)
                        Expect.stringContains e.Message "d/kernel:0" (sprintf "%s: the dataset is named" what))
            }

            test "attributes of the wrong type (numbers for names, a number for the config) are refused naming them" {
                withDir (fun dir ->
                    let names = Path.Combine(dir, "names.h5")
                    let f = H5File()
                    f.Attributes["layer_names"] <- [| 1.0; 2.0 |]
                    f.Write names
                    use net = denseNet ()
                    let e = refused "numeric layer_names" names (fun () -> net.LoadKerasWeights names)
                    Expect.stringContains e.Message "layer_names" "the attribute is named"
                    let config = Path.Combine(dir, "config.h5")
                    let g = H5File()
                    g.Attributes["model_config"] <- [| 42 |]
                    g.Write config
                    let e = refused "numeric model_config" config (fun () -> KerasH5.LoadModel(config).Dispose())
                    Expect.stringContains e.Message "model_config" "the attribute is named")
            }

            test "a listed layer whose group is missing, and a file that is not HDF5 at all, are refused naming them" {
                withDir (fun dir ->
                    let path = Path.Combine(dir, "missing.h5")
                    let f = H5File()
                    f.Attributes["layer_names"] <- [| "d"; "ghost" |]
                    f.Write path
                    use net = denseNet ()
                    let e = refused "missing group" path (fun () -> net.LoadKerasWeights path)
                    Expect.stringContains e.Message "'d'" "the layer is named"
                    let junk = Path.Combine(dir, "junk.h5")
                    File.WriteAllBytes(junk, Array.init 4096 byte)
                    refused "junk" junk (fun () -> net.LoadKerasWeights junk) |> ignore)
            }
        ]
    ]
