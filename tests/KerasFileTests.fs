/// Models and weights written by Keras itself (../shared/keras-fixtures/, never copied into the repository): legacy
/// HDF5 files from Keras 2.1–2.13 and tf.keras, read by KerasH5, must predict what Keras predicted. Skipped, saying so,
/// where the fixtures folder is absent.
module Functional.Tests.KerasFileTests

open System
open System.IO
open System.Text.Json
open Expecto
open TorchSharp
open Functional.Models
open Functional.Torch.Building
open Functional.Torch.Training
open Functional.Torch.Saving
open Functional.Tests.ExampleScriptTests

let private fixtures () =
    let dir = Path.GetFullPath(Path.Combine(repoRoot (), "..", "shared", "keras-fixtures"))
    if not (Directory.Exists dir) then skiptestf "the Keras fixtures are not at %s (they live in shared/, outside the repository)" dir
    dir

let private fixture (folder: string) (file: string) = Path.Combine(fixtures (), folder, file)

let rec private flatten (e: JsonElement) : float list =
    match e.ValueKind with
    | JsonValueKind.Array -> [ for x in e.EnumerateArray() do yield! flatten x ]
    | _ -> [ e.GetDouble() ]

let private dims (e: JsonElement) = [| for x in e.EnumerateArray() -> x.GetInt64() |]

/// (input shape, input values, expected output values) for each case an expected_io file holds.
let private cases (path: string) =
    use doc = JsonDocument.Parse(File.ReadAllText path)
    let one (c: JsonElement) =
        dims (c.GetProperty "input_shape"), flatten (c.GetProperty "input") |> Array.ofList, flatten (c.GetProperty "expected_output") |> Array.ofList
    match doc.RootElement.TryGetProperty "cases" with
    | true, cs -> [ for c in cs.EnumerateArray() -> one c ]
    | _ -> [ one doc.RootElement ]

/// Keras's numbers within 1e-5 relative (1e-5 absolute near zero).
let private expectClose (what: string) (actual: float[]) (expected: float[]) =
    Expect.equal actual.Length expected.Length (sprintf "%s: output size" what)
    let worst = Array.map2 (fun (a: float) (e: float) -> abs (a - e) / max 1.0 (abs e)) actual expected |> Array.max
    Expect.isLessThan worst 1e-5 (sprintf "%s: largest relative difference from Keras's output" what)

/// The exception f throws (failing the test when it throws none or another kind).
let private thrown<'e when 'e :> exn> (f: unit -> unit) : 'e =
    let caught = try f (); None with :? 'e as e -> Some e
    match caught with
    | Some e -> e
    | None -> failtestf "expected %s, but nothing was thrown" typeof<'e>.Name

let private predict (net: BuiltNetwork) (shape: int64[]) (input: float[]) =
    use flat = torch.tensor(input |> Array.map float32)
    use x = flat.reshape(shape)
    use y = net.Predict(x, 64)
    y.to_type(torch.float64).data<float>().ToArray()

let private matchesKeras (net: BuiltNetwork) (expectedIo: string) =
    for i, (shape, input, expected) in List.indexed (cases expectedIo) do
        expectClose (sprintf "%s case %d" (Path.GetFileName expectedIo) i) (predict net shape input) expected

/// Full-model files with Keras's stored outputs: (folder, model file, expected_io file).
let private fullModels =
    [ "dl4j-dense-relu", "ReLU_0_model.h5", "expected_io.json"
      "dl4j-mlp-softmax", "simple_sparse_xent_mlp_keras_2_model.h5", "expected_io.json"
      "dl4j-cnn-batchnorm", "cnn_batch_norm.h5", "expected_io.json"
      "dl4j-conv1d", "conv1d_k2_s1_d1_cl_same_model.h5", "expected_io_conv1d_same.json"
      "dl4j-conv1d", "causal_conv1d_k3_s1_d2_cl_model.h5", "expected_io_causal.json"
      "hls4ml-conv1d-1layer", "conv1d_1layer.h5", "expected_io.json"
      "hls4ml-prelu", "prelu.h5", "expected_io.json"
      // Recurrent layers against Keras's own numbers.
      "dl4j-lstm", "simple_flatten_lstm_tf_keras_2_model.h5", "expected_io.json"
      "dl4j-simple-rnn", "simple_rnn_tf_keras_2_model.h5", "expected_io.json"
      "keras2c-dense-lstm", "model.h5", "expected_io.json" ]

[<Tests>]
let tests =
    testList "Keras files" [
        testList "legacy HDF5 full models give Keras's outputs" [
            for folder, model, io in fullModels ->
                test (sprintf "%s/%s" folder model) {
                    use net = KerasH5.LoadModel(fixture folder model)
                    matchesKeras net (fixture folder io)
                }
        ]

        testList "a JSON config plus a weights-only HDF5 file give the same outputs" [
            for folder, config, weights in [ "hls4ml-prelu", "prelu.json", "prelu_weights.h5"
                                             "hls4ml-conv1d-1layer", "conv1d_1layer.json", "conv1d_1layer_weights.h5" ] ->
                test (sprintf "%s/%s" folder weights) {
                    let declaration = ModelConfig.FromJson(File.ReadAllText(fixture folder config))
                    use net = BuiltNetwork.Build declaration
                    net.LoadKerasWeights(fixture folder weights)
                    matchesKeras net (fixture folder "expected_io.json")
                }
        ]
    
        test "a model declared in code takes a weights-only file written by tf.keras (Conv2D with a custom initializer)" {
            // The file's own config names a Python function as its initializer ('random_kernel'), which Keras itself only
            // loads with custom_objects: declaring the same layers here and loading the weights is the .NET way.
            let model = Sequential([| Functional.Layers.Input(5, 5, 1) :> Functional.Layers.Layer; Functional.Layers.Conv2D(1, 3, Name = "conv2d") |])
            use net = BuiltNetwork.Build model
            net.LoadKerasWeights(fixture "hls4ml-conv2d-1layer" "conv2d_1layer_weights.h5")
            matchesKeras net (fixture "hls4ml-conv2d-1layer" "expected_io.json")
        }

        test "a config naming an unknown function is refused, naming it and the file" {
            let path = fixture "hls4ml-conv2d-1layer" "conv2d_1layer.h5"
            let e = thrown<InvalidDataException> (fun () -> KerasH5.LoadModel path |> ignore)
            Expect.stringContains e.Message "random_kernel" "the unknown initializer is named"
            Expect.stringContains e.Message "conv2d_1layer.h5" "the file is named"
            Expect.stringContains e.Message "Keras 2.11.0" "the writer's version is named"
        }

        test "weights are matched by layer order by default and by name on request, as Keras's load_weights" {
            let path = fixture "dl4j-dense-relu" "ReLU_0_weights.h5"
            // Same layers under other names: by order they load, by name nothing matches and nothing changes.
            let model = Sequential([| Functional.Layers.Input(16) :> Functional.Layers.Layer; Functional.Layers.Dense(32, Name = "other"); Functional.Layers.ReLU() |])
            use net = BuiltNetwork.Build model
            use before = net.Weights |> Seq.head |> fun w -> w.KerasView().clone()
            net.LoadKerasWeights(path, byName = true)
            use same = net.Weights |> Seq.head |> fun w -> w.KerasView()
            Expect.isTrue (same.allclose before) "by name: a layer the file lacks keeps its weights"
            net.LoadWeights(path)   // Keras's load_weights: an HDF5 file is recognised by its content
            matchesKeras net (fixture "dl4j-dense-relu" "expected_io.json")
        }

        test "a wrong shape is refused before anything changes, unless skipMismatch" {
            let path = fixture "dl4j-dense-relu" "ReLU_0_weights.h5"
            let model = Sequential([| Functional.Layers.Input(16) :> Functional.Layers.Layer; Functional.Layers.Dense(31, Name = "dense"); Functional.Layers.ReLU() |])
            use net = BuiltNetwork.Build model
            let e = thrown<InvalidDataException> (fun () -> net.LoadKerasWeights(path))
            Expect.stringContains e.Message "(16, 31)" "the model's shape is named"
            Expect.stringContains e.Message "(16, 32)" "the file's shape is named"
            net.LoadKerasWeights(path, byName = true, skipMismatch = true)   // skipped, as Keras warns and skips
        }

        test "files that are not Keras HDF5 are refused by content, not extension" {
            let dir = Path.Combine(Path.GetTempPath(), "functional-h5-" + Guid.NewGuid().ToString("N"))
            Directory.CreateDirectory dir |> ignore
            try
                let zip = Path.Combine(dir, "m.h5")
                File.WriteAllBytes(zip, [| byte 'P'; byte 'K'; 3uy; 4uy; 0uy; 0uy; 0uy; 0uy |])
                let e = thrown<InvalidDataException> (fun () -> KerasH5.LoadModel zip |> ignore)
                Expect.stringContains e.Message "zip" "a zip is recognised"
                let junk = Path.Combine(dir, "m.keras")
                File.WriteAllText(junk, "not a model")
                thrown<InvalidDataException> (fun () -> KerasH5.LoadModel junk |> ignore) |> ignore
                // A real HDF5 file cut short.
                let source = File.ReadAllBytes(fixture "dl4j-dense-relu" "ReLU_0_model.h5")
                let cut = Path.Combine(dir, "cut.h5")
                File.WriteAllBytes(cut, source[.. source.Length / 2])
                let e = thrown<Exception> (fun () -> KerasH5.LoadModel cut |> ignore)
                Expect.isTrue (e :? InvalidDataException || e :? IOException) (sprintf "a truncated file is a clear error, not %s: %s" (e.GetType().Name) e.Message)
                // Weights-only file: no config to build from.
                let w = thrown<InvalidDataException> (fun () -> KerasH5.LoadModel(fixture "dl4j-dense-relu" "ReLU_0_weights.h5") |> ignore)
                Expect.stringContains w.Message "weights-only" "a weights-only file says so"
            finally
                Directory.Delete(dir, true)
        }
    
        test "every Keras HDF5 fixture loads, or is refused with an InvalidDataException naming the file" {
            let files =
                Directory.EnumerateFiles(fixtures (), "*", SearchOption.AllDirectories)
                |> Seq.filter (fun f -> (f.EndsWith ".h5" || f.EndsWith ".keras") && KerasH5.IsHdf5 f)
                |> Seq.sort |> List.ofSeq
            Expect.isGreaterThan files.Length 20 "the fixtures' HDF5 files were found"
            let outcomes =
                [ for f in files ->
                    let name = Path.GetRelativePath(fixtures (), f)
                    try
                        use net = KerasH5.LoadModel f
                        name, "loaded"
                    with
                    | :? InvalidDataException as e when e.Message.Contains(Path.GetFileName f) -> name, "refused: " + e.Message.Split('\n')[0]
                    | e -> failtestf "%s: %s escaped instead of a clear InvalidDataException: %s" name (e.GetType().Name) e.Message ]
            for name, outcome in outcomes do printfn "  %s — %s" name (if outcome.Length > 220 then outcome[.. 219] + "…" else outcome)
            Expect.isGreaterThan (outcomes |> List.filter (fun (_, o) -> o = "loaded") |> List.length) 8 "most fixtures load"
        }
    
        test "a functional ResNet config (JSON) takes its weights-only file (tf.keras 2.2.4, KotlinDL's toy ResNet)" {
            let declaration = ModelConfig.FromJson(File.ReadAllText(fixture "kotlindl-toyresnet" "modelConfig.json"))
            use net = BuiltNetwork.Build declaration
            let before = net.Weights |> Seq.map (fun w -> use v = w.KerasView() in v.sum().item<float32>()) |> Array.ofSeq
            net.LoadKerasWeights(fixture "kotlindl-toyresnet" "weights.h5")
            let after = net.Weights |> Seq.map (fun w -> use v = w.KerasView() in v.sum().item<float32>()) |> Array.ofSeq
            Expect.isGreaterThan (Array.map2 (<>) before after |> Array.filter id |> Array.length) (before.Length / 2) "the file's weights replaced the fresh ones"
        }
    
        test "a Keras 3.15 .keras archive's weights load into the same layers declared here (layers/<class>[_N]/vars/<i>)" {
            // The archive's model is a subclassed Python class (Keras needs the class registered; so do we — its config is
            // refused, naming it). Its weights are four Dense layers' (three 4x4 without bias, then 4x2 with bias):
            // declared here in the same order they load by saving_lib's paths and give the archive's outputs.
            let path = fixture "k3-nested-subclassed" "pre_pr22362_nested_container.keras"
            let e = thrown<InvalidDataException> (fun () -> KerasH5.LoadModel path |> ignore)
            Expect.stringContains e.Message "NestedDenseModel" "the unregistered class is named"
            Expect.stringContains e.Message "3.15.0" "the writer's version is named"
            let dense units bias = Functional.Layers.Dense(units, useBias = bias) :> Functional.Layers.Layer
            let model = Sequential([| Functional.Layers.Input(4) :> Functional.Layers.Layer; dense 4 false; dense 4 false; dense 4 false; dense 2 true |])
            use net = BuiltNetwork.Build model
            net.LoadWeights path   // recognised as a .keras archive by its content
            matchesKeras net (fixture "k3-nested-subclassed" "expected_io.json")
            // A model whose layers do not fit is refused naming the group and the shapes.
            let wrong = Sequential([| Functional.Layers.Input(4) :> Functional.Layers.Layer; dense 4 false; dense 4 false; dense 3 false; dense 2 true |])
            use wrongNet = BuiltNetwork.Build wrong
            let e = thrown<InvalidDataException> (fun () -> wrongNet.LoadWeights path)
            Expect.stringContains e.Message "layers/dense_2/vars/0" "the file's variable is named"
        }

        test "a Keras 3.9 functional archive with a custom layer class is refused, naming the class" {
            let e = thrown<InvalidDataException> (fun () -> KerasH5.LoadModel(fixture "k3-functional-custom-layer-kdp" "test_model.keras") |> ignore)
            Expect.stringContains e.Message "DistributionAwareEncoder" "the custom class is named"
            Expect.stringContains e.Message "test_model.keras" "the file is named"
        }
    ]
