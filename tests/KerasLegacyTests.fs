/// Every Keras-written fixture in ../shared/keras-fixtures/ (never copied into the repository) walked as a table: each model
/// file loads and gives Keras's stored outputs, or is refused naming what it needs. Then the legacy HDF5 layout's corners
/// that no fixture shows (attributes split over layer_names0, layer_names1, …; names nesting groups; weights-only files),
/// in small files written here with PureHDF in Keras 2's layout, and Keras 1 files (argument names, per-gate LSTM arrays).
module Functional.Tests.KerasLegacyTests

open System
open System.IO
open System.Text.Json
open Expecto
open TorchSharp
open PureHDF
open Functional.Layers
open Functional.Shapes
open Functional.Models
open Functional.Torch.Building
open Functional.Torch.Saving
open Functional.Tests.ExampleScriptTests

let private fixturesDir () = Path.GetFullPath(Path.Combine(repoRoot (), "..", "shared", "keras-fixtures"))

let private fixtures () =
    let dir = fixturesDir ()
    if not (Directory.Exists dir) then skiptestf "the Keras fixtures are not at %s (they live in shared/, outside the repository)" dir
    dir

let rec private flatten (e: JsonElement) : float list =
    match e.ValueKind with
    | JsonValueKind.Array -> [ for x in e.EnumerateArray() do yield! flatten x ]
    | _ -> [ e.GetDouble() ]

/// (input shape, input values, expected output values) cases from an expected_io JSON file.
let private jsonCases (path: string) =
    use doc = JsonDocument.Parse(File.ReadAllText path)
    let one (c: JsonElement) =
        [| for x in (c.GetProperty "input_shape").EnumerateArray() -> x.GetInt64() |],
        flatten (c.GetProperty "input") |> Array.ofList,
        flatten (c.GetProperty "expected_output") |> Array.ofList
    match doc.RootElement.TryGetProperty "cases" with
    | true, cs -> [ for c in cs.EnumerateArray() -> one c ]
    | _ -> [ one doc.RootElement ]

/// The single dataset under `group` of a DL4J inputs_and_outputs file, as (shape, values).
let private onlyDataset (file: IH5Group) (group: string) =
    let datasets = file.Group(group).Children() |> Seq.choose (function :? IH5Dataset as d -> Some d | _ -> None) |> List.ofSeq
    match datasets with
    | [ d ] -> d.Space.Dimensions |> Array.map int64, d.Read<float32[]>() |> Array.map float
    | _ -> failtestf "%s holds %d datasets; expected one" group datasets.Length

/// DL4J's stored case: inputs/<name> and predictions/<name> (outputs/<name> is sometimes the training target).
let private h5Cases (path: string) =
    use file = H5File.OpenRead path
    let shape, input = onlyDataset file "inputs"
    let _, expected = onlyDataset file "predictions"
    [ shape, input, expected ]

let private expectClose (what: string) (actual: float[]) (expected: float[]) =
    Expect.equal actual.Length expected.Length (sprintf "%s: output size" what)
    let worst = Array.map2 (fun (a: float) (e: float) -> abs (a - e) / max 1.0 (abs e)) actual expected |> Array.max
    Expect.isLessThan worst 1e-5 (sprintf "%s: largest relative difference from Keras's output" what)

let private predict (net: BuiltNetwork) (shape: int64[]) (input: float[]) =
    use flat = torch.tensor(input |> Array.map float32)
    use x = flat.reshape(shape)
    use y = net.Predict(x, 64)
    y.to_type(torch.float64).data<float>().ToArray()

let private thrown<'e when 'e :> exn> (f: unit -> unit) : 'e =
    let caught = try f (); None with :? 'e as e -> Some e
    match caught with
    | Some e -> e
    | None -> failtestf "expected %s, but nothing was thrown" typeof<'e>.Name

/// What each fixture file is, read from its content: a full model (model_config), a weights-only file (layer_names, no
/// config), a .keras archive, or data (a DL4J inputs_and_outputs file, an .npy, a JSON config or expected outputs).
type private Kind = FullModel | WeightsOnly | Archive | Data

let private kindOf (path: string) =
    if KerasH5.IsZip path then Archive
    elif KerasH5.IsHdf5 path then
        use f = H5File.OpenRead path
        if f.AttributeExists "model_config" then FullModel
        elif f.AttributeExists "layer_names" || f.AttributeExists "layer_names0" then WeightsOnly
        else Data
    else Data

/// The stem a DL4J file family shares: "ReLU_0" for ReLU_0_model.h5, ReLU_0_weights.h5, ReLU_0_config.json, ….
let private stem (file: string) =
    let name = Path.GetFileNameWithoutExtension file
    [ "_model"; "_weights" ] |> List.fold (fun (n: string) s -> if n.EndsWith s then n[.. n.Length - s.Length - 1] else n) name

/// The outputs Keras stored for a model file: its DL4J inputs_and_outputs file, an expected_io JSON named for it, or the
/// folder's one expected_io.json.
let private expectedFor (path: string) =
    let dir = Path.GetDirectoryName path
    let s = stem path
    let io = Path.Combine(dir, s + "_inputs_and_outputs.h5")
    let named = Directory.GetFiles(dir, "expected_io_*.json") |> Array.tryFind (fun f -> s.Contains(Path.GetFileNameWithoutExtension(f).Substring("expected_io_".Length)))
    let single = Path.Combine(dir, "expected_io.json")
    if File.Exists io then Some(io, h5Cases io)
    elif named.IsSome then Some(named.Value, jsonCases named.Value)
    elif File.Exists single then Some(single, jsonCases single)
    else None

/// The JSON config that goes with a weights-only file: <stem>_config.json, <stem>.json, else the folder's one config JSON.
let private configFor (path: string) =
    let dir = Path.GetDirectoryName path
    let s = stem path
    let configs = Directory.GetFiles(dir, "*.json") |> Array.filter (fun f -> not (Path.GetFileName(f).StartsWith "expected_io"))
    [ Path.Combine(dir, s + "_config.json"); Path.Combine(dir, s + ".json") ] |> List.tryFind File.Exists
    |> Option.orElse (if configs.Length = 1 then Some configs[0] else None)

/// Fixtures refused on purpose: (file, what the message must name, why). Keras itself refuses the first three without
/// the Python code they name; the last was never built.
let private refusals =
    [ "hls4ml-conv2d-1layer/conv2d_1layer.h5", "random_kernel", "its Conv2D's initializer is a Python function (Keras too needs custom_objects)"
      "hls4ml-conv2d-1layer/conv2d_1layer_weights.h5", "random_kernel", "its config's Conv2D initializer is a Python function"
      "k3-nested-subclassed/pre_pr22362_nested_container.keras", "NestedDenseModel", "a subclassed Python model class"
      "k3-functional-custom-layer-kdp/test_model.keras", "DistributionAwareEncoder", "a custom Python layer class"
      "kerasnet-unbuilt-model/model.h5", "never built", "saved before it was built: no input shape, no weights" ]

/// How a fixture file must end: the test for one file.
let private checkFixture (root: string) (path: string) =
    let name = Path.GetRelativePath(root, path).Replace('\\', '/')
    let compare (net: BuiltNetwork) =
        match expectedFor path with
        | Some(source, cases) ->
            for i, (shape, input, expected) in List.indexed cases do
                expectClose (sprintf "%s vs %s case %d" name (Path.GetFileName source) i) (predict net shape input) expected
            sprintf "matches %d stored case(s) of %s" cases.Length (Path.GetFileName source)
        | None -> "loads (no stored outputs)"
    let fromConfig () =
        match configFor path with
        | Some config ->
            let declaration = KerasH5.ReadConfig(File.ReadAllText config, source = config)
            let net = BuiltNetwork.Build declaration
            try net.LoadKerasWeights path; net, config with _ -> net.Dispose(); reraise ()
        | None -> failtestf "%s: a weights-only file with no config next to it" name
    match refusals |> List.tryFind (fun (f, _, _) -> f = name), kindOf path with
    | Some(_, needle, why), kind ->
        let e = thrown<InvalidDataException> (fun () -> (if kind = WeightsOnly then fst (fromConfig ()) else KerasH5.LoadModel path).Dispose())
        Expect.stringContains e.Message needle (sprintf "%s: the refusal names what it needs (%s)" name why)
        Expect.stringContains e.Message (if kind = WeightsOnly then Path.GetFileName(configFor path |> Option.get) else Path.GetFileName path) (sprintf "%s: the refusal names the file" name)
        sprintf "refused as it must be (%s)" why
    | None, (FullModel | Archive) ->
        use net = KerasH5.LoadModel path
        compare net
    | None, WeightsOnly ->
        let net, config = fromConfig ()
        use net = net
        compare net + " (with " + Path.GetFileName config + ")"
    | None, Data -> "data"

/// The fixture files, found when the test list is made (none when the folder is absent).
let private fixtureFiles () =
    let dir = fixturesDir ()
    if Directory.Exists dir then
        Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories)
        |> Seq.filter (fun f -> not (f.EndsWith ".md" || f.EndsWith ".json" || f.EndsWith ".npy" || f.EndsWith ".dat"))
        |> Seq.sort |> List.ofSeq
    else []

// ---- Small files in Keras's legacy layout, written here ---------------------------------------------------------------

let private temp (name: string) =
    let dir = Path.Combine(Path.GetTempPath(), "functional-klegacy-" + Guid.NewGuid().ToString("N"))
    Directory.CreateDirectory dir |> ignore
    Path.Combine(dir, name)

let private cleanup (path: string) = try Directory.Delete(Path.GetDirectoryName path, true) with _ -> ()

let dataset (values: float32[]) (dims: uint64[]) = H5Dataset(values, fileDims = dims)

/// A group holding a layer's arrays as Keras 2 writes them: weight_names "<layer>/<name>:0" nesting a subgroup (also used
/// by SubmodelTests to write a whole Keras 2 weights file).
let layerGroup (layer: string) (weights: (string * float32[] * uint64[]) list) =
    let g = H5Group()
    if weights.IsEmpty then g.Attributes["weight_names"] <- (Array.empty<float> : float[])   // h5py's empty list
    else
        g.Attributes["weight_names"] <- [| for n, _, _ in weights -> sprintf "%s/%s:0" layer n |]
        let sub = H5Group()
        // Written in reverse of weight_names order: the reader must go by weight_names, not by what the group lists.
        for n, v, d in List.rev weights do sub[n + ":0"] <- dataset v d
        g[layer] <- sub
    g

let private values (n: int) (offset: float32) = Array.init n (fun i -> offset + float32 i * 0.01f)

let private weightOf (net: BuiltNetwork) (name: string) =
    let w = net.Weights |> Seq.find (fun w -> w.Name = name)
    use v = w.KerasView()
    v.contiguous().data<float32>().ToArray()

[<Tests>]
let tests =
    testList "Keras legacy files" [
        testList "every fixture file loads and matches Keras, or is refused naming what it needs" [
            match fixtureFiles () with
            | [] -> yield test "the fixtures folder" { fixtures () |> ignore }
            | files ->
                let root = fixturesDir ()
                for f in files do
                  yield
                    test (Path.GetRelativePath(root, f).Replace('\\', '/')) {
                        let outcome = checkFixture root f
                        printfn "  %s — %s" (Path.GetRelativePath(root, f)) outcome
                    }
        ]

        test "a Keras 1.2.2 LSTM model: arguments converted as Keras 2 did, per-gate arrays joined, DL4J's stored predictions" {
            let dir = Path.Combine(fixtures (), "dl4j-keras1-lstm")
            let cases = h5Cases (Path.Combine(dir, "simple_lstm_tf_keras_1_inputs_and_outputs.h5"))
            use net = KerasH5.LoadModel(Path.Combine(dir, "simple_lstm_tf_keras_1_model.h5"))
            let lstm = net.Declaration.Layers |> Seq.pick (function :? LSTM as l -> Some l | _ -> None)
            Expect.equal lstm.Units 50 "output_dim became units"
            Expect.equal lstm.Name "lstm_1" "the name is kept"
            for shape, input, expected in cases do expectClose "Keras 1 full model" (predict net shape input) expected
            // The weights-only file and the to_json() config give the same.
            let declaration = KerasH5.ReadConfig(File.ReadAllText(Path.Combine(dir, "simple_lstm_tf_keras_1_config.json")))
            use fromJson = BuiltNetwork.Build declaration
            fromJson.LoadKerasWeights(Path.Combine(dir, "simple_lstm_tf_keras_1_weights.h5"))
            for shape, input, expected in cases do expectClose "Keras 1 config + weights" (predict fromJson shape input) expected
        }

        test "Keras 1 arguments are converted as Keras 2's legacy interfaces did, and a clash is refused" {
            let keras1 =
                """{"class_name": "Sequential", "keras_version": "1.2.2", "config": [
                     {"class_name": "Convolution2D", "config": {"name": "c", "nb_filter": 4, "nb_row": 3, "nb_col": 2, "subsample": [1, 1],
                      "border_mode": "same", "dim_ordering": "tf", "init": "glorot_uniform", "bias": true, "W_regularizer": null,
                      "b_regularizer": null, "activity_regularizer": null, "W_constraint": null, "b_constraint": null, "activation": "relu",
                      "trainable": true, "batch_input_shape": [null, 8, 8, 1], "input_dtype": "float32"}},
                     {"class_name": "MaxPooling2D", "config": {"name": "p", "pool_size": [2, 2], "strides": [2, 2], "border_mode": "valid", "dim_ordering": "tf", "trainable": true}},
                     {"class_name": "Dropout", "config": {"name": "d", "p": 0.25, "trainable": true}},
                     {"class_name": "Flatten", "config": {"name": "f", "trainable": true}},
                     {"class_name": "Dense", "config": {"name": "o", "output_dim": 3, "init": "glorot_uniform", "activation": "softmax",
                      "bias": false, "input_dim": 32, "W_regularizer": null, "b_regularizer": null, "activity_regularizer": null,
                      "W_constraint": null, "b_constraint": null, "trainable": true}}]}"""
            let model = KerasH5.ReadConfig keras1 :?> Sequential
            let conv = model.Layers[0] :?> Conv2D
            Expect.equal conv.Filters 4 "nb_filter"
            Expect.equal (List.ofSeq conv.KernelSize) [ 3; 2 ] "nb_row, nb_col"
            Expect.equal model.InputShapes[0] (Functional.Shapes.Shape(8, 8, 1)) "batch_input_shape"
            Expect.equal ((model.Layers[2] :?> Dropout).Rate) 0.25 "p"
            let dense = model.Layers[4] :?> Dense
            Expect.equal dense.Units 3 "output_dim"
            Expect.isFalse dense.UseBias "bias=False"
            // Keras 1's GRU is Keras 2's reset_after=False; Merge and BatchNormalization(mode=1) are refused as Keras 2 refused them.
            let gru =
                """{"class_name": "Sequential", "keras_version": "1.2.2", "config": [{"class_name": "GRU", "config": {"name": "g",
                     "output_dim": 4, "inner_activation": "hard_sigmoid", "init": "glorot_uniform", "inner_init": "orthogonal",
                     "consume_less": "gpu", "batch_input_shape": [null, 5, 2], "input_dim": 2, "input_length": null,
                     "dropout_W": 0.0, "dropout_U": 0.0, "W_regularizer": null, "U_regularizer": null, "b_regularizer": null}}]}"""
            let g = (KerasH5.ReadConfig gru :?> Sequential).Layers[0] :?> GRU
            Expect.isFalse g.ResetAfter "Keras 1's GRU resets before the recurrent kernel"
            Expect.equal g.Units 4 "output_dim"
            let merge = keras1.Replace("\"Flatten\", \"config\": {\"name\": \"f\"", "\"Merge\", \"config\": {\"name\": \"f\", \"mode\": \"concat\"")
            let e = thrown<InvalidDataException> (fun () -> KerasH5.ReadConfig merge |> ignore)
            Expect.stringContains e.Message "Merge" "a Merge layer is named"
            let bn = keras1.Replace("\"Flatten\", \"config\": {\"name\": \"f\"", "\"BatchNormalization\", \"config\": {\"name\": \"f\", \"mode\": 1")
            let e = thrown<InvalidDataException> (fun () -> KerasH5.ReadConfig bn |> ignore)
            Expect.stringContains e.Message "mode=1" "BatchNormalization's mode is named"
            let clash = keras1.Replace("\"output_dim\": 3,", "\"output_dim\": 3, \"units\": 3,")
            let e = thrown<InvalidDataException> (fun () -> KerasH5.ReadConfig clash |> ignore)
            Expect.stringContains e.Message "output_dim" "the Keras 1 argument is named"
            Expect.stringContains e.Message "'o'" "the layer is named"
        }

        test "a model saved before it was built: its declaration's layers load, building says what is missing" {
            let path = Path.Combine(fixtures (), "kerasnet-unbuilt-model", "model.h5")
            let e = thrown<InvalidDataException> (fun () -> KerasH5.LoadDeclaration path |> ignore)
            Expect.stringContains e.Message "never built" "says why"
            Expect.stringContains e.Message "LoadLayers" "says what to do"
            Expect.equal e.Data[KerasH5.ObjectKey] (box "model_config") "names the object"
            let layers = KerasH5.LoadLayers path
            Expect.equal [ for l in layers -> l.ClassName ] [ "Flatten"; "Dense"; "Dropout"; "Dense" ] "the declared layers"
            let model = Sequential([| yield Input(28, 28) :> Layer; yield! layers |])
            use net = BuiltNetwork.Build model
            Expect.equal net.Declaration.OutputShapes[0] (Functional.Shapes.Shape(5)) "built once the input is declared"
        }

        test "layer_names and weight_names split over name0, name1, … (Keras's >64 KB attributes) are joined" {
            let path = temp "split.weights.h5"
            try
                let f = H5File()
                f.Attributes["layer_names0"] <- [| "hidden" |]
                f.Attributes["layer_names1"] <- [| "drop"; "out" |]
                f["hidden"] <- layerGroup "hidden" [ "kernel", values 12 0.1f, [| 4UL; 3UL |]; "bias", values 3 0.5f, [| 3UL |] ]
                f["drop"] <- layerGroup "drop" []
                let out = H5Group()
                out.Attributes["weight_names0"] <- [| "out/kernel:0" |]
                out.Attributes["weight_names1"] <- [| "out/bias:0" |]
                let sub = H5Group()
                sub["kernel:0"] <- dataset (values 6 -0.2f) [| 3UL; 2UL |]
                sub["bias:0"] <- dataset (values 2 0.7f) [| 2UL |]
                out["out"] <- sub
                f["out"] <- out
                f.Write path
                let model = Sequential([| Input(4) :> Layer; Dense(3, Name = "hidden"); Dropout(0.5, Name = "drop"); Dense(2, Name = "out") |])
                use net = BuiltNetwork.Build model
                net.LoadKerasWeights path
                Expect.sequenceEqual (weightOf net "hidden/kernel") (values 12 0.1f) "hidden kernel"
                Expect.sequenceEqual (weightOf net "hidden/bias") (values 3 0.5f) "hidden bias"
                Expect.sequenceEqual (weightOf net "out/kernel") (values 6 -0.2f) "out kernel (split weight_names)"
                Expect.sequenceEqual (weightOf net "out/bias") (values 2 0.7f) "out bias"
            finally cleanup path
        }

        test "Keras 2 names: SeparableConv2D's depthwise_kernel, an LSTM's lstm/lstm_cell/kernel:0 nesting two groups, by name" {
            let path = temp "names.h5"
            try
                let f = H5File()
                f.Attributes["layer_names"] <- [| "sep"; "lstm" |]
                f["sep"] <- layerGroup "sep" [ "depthwise_kernel", values 18 0.3f, [| 3UL; 3UL; 2UL; 1UL |]
                                               "pointwise_kernel", values 8 -0.1f, [| 1UL; 1UL; 2UL; 4UL |]
                                               "bias", values 4 0.9f, [| 4UL |] ]
                // tf.keras 2.x: weight_names "lstm/lstm_cell/kernel:0" — the arrays sit two groups down.
                let lstm = H5Group()
                lstm.Attributes["weight_names"] <- [| "lstm/lstm_cell/kernel:0"; "lstm/lstm_cell/recurrent_kernel:0"; "lstm/lstm_cell/bias:0" |]
                let cell = H5Group()
                cell["bias:0"] <- dataset (values 8 0.05f) [| 8UL |]
                cell["recurrent_kernel:0"] <- dataset (values 16 -0.3f) [| 2UL; 8UL |]
                cell["kernel:0"] <- dataset (values 32 0.2f) [| 4UL; 8UL |]
                let outer = H5Group()
                outer["lstm_cell"] <- cell
                lstm["lstm"] <- outer
                f["lstm"] <- lstm
                f.Write path
                let model = Sequential([| Input(5, 5, 2) :> Layer; SeparableConv2D(4, IntTuple.op_Implicit 3, Name = "sep"); Reshape(IntTuple.op_Implicit [| 9; 4 |]); LSTM(2, Name = "lstm") |])
                use net = BuiltNetwork.Build model
                net.LoadKerasWeights(path, byName = true)
                Expect.sequenceEqual (weightOf net "sep/depthwise_kernel") (values 18 0.3f) "depthwise_kernel"
                Expect.sequenceEqual (weightOf net "sep/pointwise_kernel") (values 8 -0.1f) "pointwise_kernel"
                Expect.sequenceEqual (weightOf net "lstm/kernel") (values 32 0.2f) "lstm kernel"
                Expect.sequenceEqual (weightOf net "lstm/recurrent_kernel") (values 16 -0.3f) "lstm recurrent kernel"
                Expect.sequenceEqual (weightOf net "lstm/bias") (values 8 0.05f) "lstm bias"
            finally cleanup path
        }

        test "convolution kernels: Keras 1's Conv1D and channels-first Conv2D layouts, and Theano's flipped kernels, converted as tf.keras did" {
            let path = temp "kernels.h5"
            try
                let write (attrs: (string * string) list) (kernels: (string * float32[] * uint64[]) list) =
                    let f = H5File()
                    for k, v in attrs do f.Attributes[k] <- v
                    f.Attributes["layer_names"] <- [| for n, _, _ in kernels -> n |]
                    for n, v, d in kernels do
                        let g = H5Group()
                        // Keras 1 names: "<layer>_W:0" directly in the layer's group.
                        g.Attributes["weight_names"] <- [| n + "_W:0"; n + "_b:0" |]
                        g[n + "_W:0"] <- dataset v d
                        g[n + "_b:0"] <- dataset [| 0.0f; 0.0f |] [| 2UL |]
                        f[n] <- g
                    f.Write path
                let model = Sequential([| Input(6, 6, 3) :> Layer; Conv2D(2, IntTuple.op_Implicit 2, Name = "c2"); Reshape(IntTuple.op_Implicit [| 25; 2 |]); Conv1D(2, IntTuple.op_Implicit 3, Name = "c1") |])
                use net = BuiltNetwork.Build model
                let v2 = values 24 -0.1f
                let v1 = values 12 0.2f
                // Keras 1 (no keras_version): Conv2D (filters, in, kh, kw), Conv1D (k, 1, in, filters).
                write [] [ "c2", v2, [| 2UL; 3UL; 2UL; 2UL |]; "c1", v1, [| 3UL; 1UL; 2UL; 2UL |] ]
                net.LoadKerasWeights path
                use t2 = torch.tensor(v2).reshape(2L, 3L, 2L, 2L).permute(2L, 3L, 1L, 0L).contiguous()
                Expect.sequenceEqual (weightOf net "c2/kernel") (t2.data<float32>().ToArray()) "Conv2D (filters, in, kh, kw) → (kh, kw, in, filters)"
                Expect.sequenceEqual (weightOf net "c1/kernel") v1 "Conv1D (k, 1, in, filters) → (k, in, filters)"
                // Keras 2 with the Theano backend: the kernels in Keras 2's layout, flipped along their spatial axes.
                write [ "keras_version", "2.0.5"; "backend", "theano" ] [ "c2", v2, [| 2UL; 2UL; 3UL; 2UL |]; "c1", v1, [| 3UL; 2UL; 2UL |] ]
                net.LoadKerasWeights path
                use f2 = torch.tensor(v2).reshape(2L, 2L, 3L, 2L).flip(0L, 1L).contiguous()
                use f1 = torch.tensor(v1).reshape(3L, 2L, 2L).flip(0L).contiguous()
                Expect.sequenceEqual (weightOf net "c2/kernel") (f2.data<float32>().ToArray()) "Theano Conv2D kernel flipped"
                Expect.sequenceEqual (weightOf net "c1/kernel") (f1.data<float32>().ToArray()) "Theano Conv1D kernel flipped"
            finally cleanup path
        }

        test "weight_names naming an array the group lacks is refused naming the layer and the array" {
            let path = temp "missing.h5"
            try
                let f = H5File()
                f.Attributes["layer_names"] <- [| "d" |]
                let g = layerGroup "d" [ "kernel", values 6 0.0f, [| 3UL; 2UL |] ]
                g.Attributes["weight_names"] <- [| "d/kernel:0"; "d/bias:0" |]
                f["d"] <- g
                f.Write path
                use net = BuiltNetwork.Build(Sequential([| Input(3) :> Layer; Dense(2, Name = "d") |]))
                let e = thrown<InvalidDataException> (fun () -> net.LoadKerasWeights path)
                Expect.stringContains e.Message "d/bias:0" "the array is named"
                Expect.stringContains e.Message "missing.h5" "the file is named"
            finally cleanup path
        }
    ]
