/// Writing Keras 3 `.keras` archives (ModelFile.Save on a built network, CompiledModel.Save) and reading them back (ModelFile.Load):
/// the zip entries, the config and the HDF5 layout are checked against saving_lib.py's, written down below; round trips
/// keep predictions, the compile config and the optimizer's state, so training resumes exactly.
module Functional.Tests.KerasArchiveTests

open System
open System.IO
open System.IO.Compression
open System.Text.Json.Nodes
open Expecto
open TorchSharp
open PureHDF
open Functional.Layers
open Functional.Models
open Functional.Training
open Functional.Torch.Building
open Functional.Torch.Training
open Functional.Torch.Saving
open Functional.Tests.Support
open Functional.Tests.ExampleScriptTests

type private G = Functional.Models.Graph

let private temp (name: string) =
    let dir = Path.Combine(Path.GetTempPath(), "functional-keras-archive-" + Guid.NewGuid().ToString("N"))
    Directory.CreateDirectory dir |> ignore
    Path.Combine(dir, name)

let private thrown<'e when 'e :> exn> (f: unit -> unit) : 'e =
    let caught = try f (); None with :? 'e as e -> Some e
    match caught with
    | Some e -> e
    | None -> failtestf "expected %s, but nothing was thrown" typeof<'e>.Name

let private entryBytes (zip: ZipArchive) (name: string) =
    use s = zip.GetEntry(name).Open()
    use m = new MemoryStream()
    s.CopyTo m
    m.ToArray()

/// The HDF5 file as h5py would list it (the form of the fixtures' SOURCE.md dumps): every group that has a `name`
/// attribute as "path  [attr name=…]", every dataset as "path (shape) dtype"; children in numeric-then-name order.
let private dump (bytes: byte[]) =
    use stream = new MemoryStream(bytes)
    use file = H5File.Open(stream, leaveOpen = true)
    let lines = ResizeArray<string>()
    let key (name: string) = match Int32.TryParse name with | true, n -> (0, n, "") | _ -> (1, 0, name)
    let rec walk (prefix: string) (g: IH5Group) =
        for child in g.Children() |> Seq.sortBy (fun c -> key (c.Name.Split('/') |> Array.last)) do
            let name = child.Name.Split('/') |> Array.last
            let path = if prefix = "" then name else prefix + "/" + name
            match child with
            | :? IH5Dataset as d ->
                let shape = d.Space.Dimensions |> Array.map string |> String.concat ", "
                let shape = if d.Space.Dimensions.Length = 1 then shape + "," else shape
                let dtype =
                    match d.Type.Class, d.Type.Size with
                    | H5DataTypeClass.FloatingPoint, 4 -> "float32"
                    | H5DataTypeClass.FloatingPoint, 8 -> "float64"
                    | H5DataTypeClass.FixedPoint, 8 -> "int64"
                    | H5DataTypeClass.FixedPoint, 4 -> "int32"
                    | c, s -> sprintf "%A%d" c s
                lines.Add(sprintf "%s (%s) %s" path shape dtype)
            | :? IH5Group as sub ->
                if sub.AttributeExists "name" then lines.Add(sprintf "%s  [attr name=%s]" path (sub.Attribute("name").Read<string>()))
                walk path sub
            | _ -> ()
    walk "" file
    List.ofSeq lines

let private datasetValues (bytes: byte[]) (path: string) =
    use stream = new MemoryStream(bytes)
    use file = H5File.Open(stream, leaveOpen = true)
    let d = file.Dataset path
    match d.Type.Size with
    | 8 when d.Type.Class = H5DataTypeClass.FixedPoint -> d.Read<int64[]>() |> Array.map float
    | 8 -> d.Read<float[]>()
    | _ -> d.Read<float32[]>() |> Array.map float

/// A file of ../shared/keras-fixtures/ (skipping the test, saying so, where the folder is absent).
let private kerasFixture (folder: string) (file: string) =
    let dir = Path.GetFullPath(Path.Combine(repoRoot (), "..", "shared", "keras-fixtures"))
    if not (Directory.Exists dir) then skiptestf "the Keras fixtures are not at %s (they live in shared/, outside the repository)" dir
    Path.Combine(dir, folder, file)

let private values (t: torch.Tensor) = t.detach().cpu().to_type(torch.ScalarType.Float64).contiguous().data<float>().ToArray()

// ---- the models, and saving_lib's layout for each (what Keras 3.15 writes for the same model) --------------------------

let private cnn () =
    Sequential([| Input(8, 8, 1) :> Layer; Conv2D(2, 3); BatchNormalization(); Flatten(); Dense(3) |])

/// Sequential: model.layers without its InputLayer; a vars group per layer named as the layer (weightless ones empty);
/// BatchNormalization's gamma, beta (trainable) then moving_mean, moving_variance; the optimizer's iteration (int64, ()),
/// learning_rate (float32, ()), then Adam's momentum and velocity interleaved per trainable variable in model order.
let private cnnLayout =
    [ "layers  "
      "layers/batch_normalization/vars  [attr name=batch_normalization]"
      "layers/batch_normalization/vars/0 (2,) float32"
      "layers/batch_normalization/vars/1 (2,) float32"
      "layers/batch_normalization/vars/2 (2,) float32"
      "layers/batch_normalization/vars/3 (2,) float32"
      "layers/conv2d/vars  [attr name=conv2d]"
      "layers/conv2d/vars/0 (3, 3, 1, 2) float32"
      "layers/conv2d/vars/1 (2,) float32"
      "layers/dense/vars  [attr name=dense]"
      "layers/dense/vars/0 (72, 3) float32"
      "layers/dense/vars/1 (3,) float32"
      "layers/flatten/vars  [attr name=flatten]"
      "optimizer/vars  [attr name=adam]"
      "optimizer/vars/0 () int64"
      "optimizer/vars/1 () float32"
      "optimizer/vars/2 (3, 3, 1, 2) float32"      // conv2d kernel: momentum
      "optimizer/vars/3 (3, 3, 1, 2) float32"      //               velocity
      "optimizer/vars/4 (2,) float32"              // conv2d bias
      "optimizer/vars/5 (2,) float32"
      "optimizer/vars/6 (2,) float32"              // gamma
      "optimizer/vars/7 (2,) float32"
      "optimizer/vars/8 (2,) float32"              // beta
      "optimizer/vars/9 (2,) float32"
      "optimizer/vars/10 (72, 3) float32"          // dense kernel
      "optimizer/vars/11 (72, 3) float32"
      "optimizer/vars/12 (3,) float32"
      "optimizer/vars/13 (3,) float32"
      "vars  [attr name=sequential]" ]

let private graph () =
    let x = G.Input(6)
    let a = Dense(4, activation = "relu", Name = "left").Call x
    let b = Dense(4, Name = "right").Call x
    let s = Add().Call(a, b)
    Model(x, Dense(2, Name = "out").Call s, name = "graph")

/// Functional: model.layers include the InputLayer (an empty group); three Dense layers are dense, dense_1, dense_2 in
/// model.layers order whatever their names (which the vars groups carry).
let private graphLayout =
    [ "layers  "
      "layers/add/vars  [attr name=add]"
      "layers/dense/vars  [attr name=left]"
      "layers/dense/vars/0 (6, 4) float32"
      "layers/dense/vars/1 (4,) float32"
      "layers/dense_1/vars  [attr name=right]"
      "layers/dense_1/vars/0 (6, 4) float32"
      "layers/dense_1/vars/1 (4,) float32"
      "layers/dense_2/vars  [attr name=out]"
      "layers/dense_2/vars/0 (4, 2) float32"
      "layers/dense_2/vars/1 (2,) float32"
      "layers/input_layer/vars  [attr name=input_layer]"
      "optimizer/vars  [attr name=adam]"
      "optimizer/vars/0 () int64"
      "optimizer/vars/1 () float32"
      "optimizer/vars/2 (6, 4) float32"
      "optimizer/vars/3 (6, 4) float32"
      "optimizer/vars/4 (4,) float32"
      "optimizer/vars/5 (4,) float32"
      "optimizer/vars/6 (6, 4) float32"
      "optimizer/vars/7 (6, 4) float32"
      "optimizer/vars/8 (4,) float32"
      "optimizer/vars/9 (4,) float32"
      "optimizer/vars/10 (4, 2) float32"
      "optimizer/vars/11 (4, 2) float32"
      "optimizer/vars/12 (2,) float32"
      "optimizer/vars/13 (2,) float32"
      "vars  [attr name=graph]" ]

let private lstm () = Sequential([| Input(5, 3) :> Layer; LSTM(4); Dense(2) |])

/// A recurrent layer keeps nothing itself: its variables are its cell's (LSTMCell named lstm_cell): kernel,
/// recurrent_kernel, bias.
let private lstmLayout =
    [ "layers  "
      "layers/dense/vars  [attr name=dense]"
      "layers/dense/vars/0 (4, 2) float32"
      "layers/dense/vars/1 (2,) float32"
      "layers/lstm/cell/vars  [attr name=lstm_cell]"
      "layers/lstm/cell/vars/0 (3, 16) float32"
      "layers/lstm/cell/vars/1 (4, 16) float32"
      "layers/lstm/cell/vars/2 (16,) float32"
      "layers/lstm/vars  [attr name=lstm]"
      "vars  [attr name=sequential]" ]

let private bigru () = Sequential([| Input(5, 3) :> Layer; Bidirectional(GRU(4)); Dense(2) |])

/// Bidirectional: its forward_layer and backward_layer (forward_gru, backward_gru), each with its cell.
let private bigruLayout =
    [ "layers  "
      "layers/bidirectional/backward_layer/cell/vars  [attr name=gru_cell]"
      "layers/bidirectional/backward_layer/cell/vars/0 (3, 12) float32"
      "layers/bidirectional/backward_layer/cell/vars/1 (4, 12) float32"
      "layers/bidirectional/backward_layer/cell/vars/2 (2, 12) float32"
      "layers/bidirectional/backward_layer/vars  [attr name=backward_gru]"
      "layers/bidirectional/forward_layer/cell/vars  [attr name=gru_cell]"
      "layers/bidirectional/forward_layer/cell/vars/0 (3, 12) float32"
      "layers/bidirectional/forward_layer/cell/vars/1 (4, 12) float32"
      "layers/bidirectional/forward_layer/cell/vars/2 (2, 12) float32"
      "layers/bidirectional/forward_layer/vars  [attr name=forward_gru]"
      "layers/bidirectional/vars  [attr name=bidirectional]"
      "layers/dense/vars  [attr name=dense]"
      "layers/dense/vars/0 (8, 2) float32"
      "layers/dense/vars/1 (2,) float32"
      "vars  [attr name=sequential]" ]

let private attention () =
    let x = G.Input(6, 8)
    let y = MultiHeadAttention(2, 4, Name = "mha").Call(x, x)
    Model(x, Dense(2).Call(GlobalAveragePooling1D().Call y), name = "attention")

/// MultiHeadAttention: no variables of its own; its EinsumDense sub-layers _query_dense, _key_dense, _value_dense and
/// _output_dense (named query, key, value, attention_output) hold kernel and bias; _softmax and _dropout_layer are empty.
let private attentionLayout =
    [ "layers  "
      "layers/dense/vars  [attr name=dense]"
      "layers/dense/vars/0 (8, 2) float32"
      "layers/dense/vars/1 (2,) float32"
      "layers/global_average_pooling1d/vars  [attr name=global_average_pooling1d]"
      "layers/input_layer/vars  [attr name=input_layer]"
      "layers/multi_head_attention/_dropout_layer/vars  [attr name=dropout]"
      "layers/multi_head_attention/_key_dense/vars  [attr name=key]"
      "layers/multi_head_attention/_key_dense/vars/0 (8, 2, 4) float32"
      "layers/multi_head_attention/_key_dense/vars/1 (2, 4) float32"
      "layers/multi_head_attention/_output_dense/vars  [attr name=attention_output]"
      "layers/multi_head_attention/_output_dense/vars/0 (2, 4, 8) float32"
      "layers/multi_head_attention/_output_dense/vars/1 (8,) float32"
      "layers/multi_head_attention/_query_dense/vars  [attr name=query]"
      "layers/multi_head_attention/_query_dense/vars/0 (8, 2, 4) float32"
      "layers/multi_head_attention/_query_dense/vars/1 (2, 4) float32"
      "layers/multi_head_attention/_softmax/vars  [attr name=softmax]"
      "layers/multi_head_attention/_value_dense/vars  [attr name=value]"
      "layers/multi_head_attention/_value_dense/vars/0 (8, 2, 4) float32"
      "layers/multi_head_attention/_value_dense/vars/1 (2, 4) float32"
      "layers/multi_head_attention/vars  [attr name=mha]"
      "vars  [attr name=attention]" ]

let private nested () =
    let inner = Sequential("encoder", [ Input(4) :> Layer; Dense(3, Name = "hidden"); Dense(2, Name = "code") ])
    let x = G.Input(4)
    Model(x, Dense(1, Name = "head").Call(inner.Call(Dense(4, Name = "stem").Call x)), name = "outer")

/// A nested model is a layer of the outer model (class Sequential → layers/sequential) with its own layers inside.
let private nestedLayout =
    [ "layers  "
      "layers/dense/vars  [attr name=stem]"
      "layers/dense/vars/0 (4, 4) float32"
      "layers/dense/vars/1 (4,) float32"
      "layers/dense_1/vars  [attr name=head]"
      "layers/dense_1/vars/0 (2, 1) float32"
      "layers/dense_1/vars/1 (1,) float32"
      "layers/input_layer/vars  [attr name=input_layer]"
      "layers/sequential/layers  "
      "layers/sequential/layers/dense/vars  [attr name=hidden]"
      "layers/sequential/layers/dense/vars/0 (4, 3) float32"
      "layers/sequential/layers/dense/vars/1 (3,) float32"
      "layers/sequential/layers/dense_1/vars  [attr name=code]"
      "layers/sequential/layers/dense_1/vars/0 (3, 2) float32"
      "layers/sequential/layers/dense_1/vars/1 (2,) float32"
      "layers/sequential/vars  [attr name=encoder]"
      "vars  [attr name=outer]" ]

/// The lines of the layout that name groups with variables or names (the "layers  " placeholder lines only order the list).
let private expected (layout: string list) = layout |> List.filter (fun l -> not (l.EndsWith "  "))

let private withoutOptimizer (lines: string list) = lines |> List.filter (fun l -> not (l.StartsWith "optimizer/"))

/// Trains one step so the optimizer's state is not zero.
let private trained (m: IModel) (outputs: int) =
    let net = BuiltNetwork.Build m
    let compiled = net.Compile(Adam(learningRate = 0.01), MeanSquaredError(), seed = 5L)
    torch.manual_seed 11L |> ignore
    let shape = m.InputShapes.[0].ToKnownArray() |> Array.map int64
    use x = torch.randn(Array.append [| 8L |] shape)
    use y = torch.randn(8L, int64 outputs)
    compiled.Fit(x, y, batchSize = 4, epochs = 1, verbose = Verbose 0, shuffle = false) |> ignore
    net, compiled

let private cases =
    [ "Sequential CNN with BatchNormalization", cnn >> (fun m -> m :> IModel), 3, cnnLayout, true
      "functional graph", graph >> (fun m -> m :> IModel), 2, graphLayout, true
      "LSTM", lstm >> (fun m -> m :> IModel), 2, lstmLayout, false
      "Bidirectional(GRU)", bigru >> (fun m -> m :> IModel), 2, bigruLayout, false
      "MultiHeadAttention in a graph", attention >> (fun m -> m :> IModel), 2, attentionLayout, false
      "nested model", nested >> (fun m -> m :> IModel), 1, nestedLayout, false ]

[<Tests>]
let tests =
    testList "Keras archives" [
        testList "the HDF5 layout is saving_lib's" [
            for name, make, outputs, layout, withOptimizer in cases ->
                test name {
                    torchReady 21
                    let net, _ = trained (make ()) outputs
                    use _ = net
                    let path = temp "m.keras"
                    net.Save path
                    use zip = ZipFile.OpenRead path
                    let lines = dump (entryBytes zip "model.weights.h5")
                    let actual = if withOptimizer then lines else withoutOptimizer lines
                    Expect.sequenceEqual actual (expected layout) "groups, name attributes and datasets as Keras writes them"
                    if not withOptimizer then
                        Expect.isTrue (lines |> List.exists (fun l -> l = "optimizer/vars  [attr name=adam]")) "the optimizer's group"
                }
        ]

        test "the zip holds metadata.json, config.json and model.weights.h5, stored, with Keras's JSON" {
            torchReady 22
            let net, _ = trained (cnn ()) 3
            use _ = net
            let path = temp "m.keras"
            net.Save path
            use zip = ZipFile.OpenRead path
            Expect.sequenceEqual [ for e in zip.Entries -> e.FullName ] [ "metadata.json"; "config.json"; "model.weights.h5" ] "entries, in saving_lib's order"
            for e in zip.Entries do Expect.equal e.CompressedLength e.Length (sprintf "%s is stored uncompressed, as zipfile writes it" e.FullName)
            let metadata = JsonNode.Parse(Text.Encoding.UTF8.GetString(entryBytes zip "metadata.json")).AsObject()
            Expect.sequenceEqual [ for kv in metadata -> kv.Key ] [ "keras_version"; "date_saved" ] "metadata keys"
            Expect.equal (string metadata.["keras_version"]) KerasH5.WrittenKerasVersion "the Keras version whose format is written"
            Expect.isTrue (Text.RegularExpressions.Regex.IsMatch(string metadata.["date_saved"], @"^\d{4}-\d\d-\d\d@\d\d:\d\d:\d\d$")) "date_saved as %Y-%m-%d@%H:%M:%S"
            let config = JsonNode.Parse(Text.Encoding.UTF8.GetString(entryBytes zip "config.json")).AsObject()
            Expect.sequenceEqual [ for kv in config -> kv.Key ] [ "module"; "class_name"; "config"; "registered_name"; "build_config"; "compile_config" ] "serialize_keras_object's keys"
            Expect.equal (config.["build_config"].ToJsonString()) """{"input_shape":[null,8,8,1]}""" "a Sequential's build_config"
            let compile = config.["compile_config"].AsObject()
            Expect.sequenceEqual [ for kv in compile -> kv.Key ]
                [ "optimizer"; "loss"; "loss_weights"; "metrics"; "weighted_metrics"; "run_eagerly"; "steps_per_execution"; "jit_compile" ] "get_compile_config's keys"
            let optimizer = compile.["optimizer"].AsObject()
            Expect.equal (string optimizer.["class_name"]) "Adam" "optimizer class"
            Expect.equal (string optimizer.["module"]) "keras.optimizers" "optimizer module"
            Expect.equal (optimizer.["config"].["learning_rate"].GetValue<float>()) 0.01 "learning_rate"
            Expect.equal (optimizer.["config"].["beta_1"].GetValue<float>()) 0.9 "beta_1"
            Expect.equal (optimizer.["config"].["use_ema"].GetValue<bool>()) false "use_ema (Keras's base argument)"
            Expect.equal (string compile.["loss"].["class_name"]) "MeanSquaredError" "loss class"
            Expect.equal (string compile.["loss"].["config"].["reduction"]) "sum_over_batch_size" "loss reduction"
        }

        test "optimizer/vars hold iteration, learning_rate and each variable's momentum and velocity, interleaved" {
            torchReady 23
            let net, compiled = trained (cnn ()) 3
            use _ = net
            let path = temp "m.keras"
            compiled.Save path
            use zip = ZipFile.OpenRead path
            let h5 = entryBytes zip "model.weights.h5"
            Expect.equal (datasetValues h5 "optimizer/vars/0") [| float compiled.Optimizer.Iterations |] "iteration"
            Expect.equal compiled.Optimizer.Iterations 2L "two steps were taken"
            Expect.equal (datasetValues h5 "optimizer/vars/1") [| float (float32 0.01) |] "learning_rate (float32, as Keras's variable)"
            let trainable = compiled.TrainableWeights |> Seq.map (fun w -> w.Name) |> List.ofSeq
            let at name = trainable |> List.findIndex ((=) name)
            // Keras's model order: conv2d kernel, bias, gamma, beta, dense kernel, bias; m then v for each.
            for i, weight in List.indexed [ "conv2d/kernel"; "conv2d/bias"; "batch_normalization/gamma"; "batch_normalization/beta"; "dense/kernel"; "dense/bias" ] do
                // In Keras's layout: permuted as the weight's KerasView is.
                let keras (slot: string) =
                    let t = compiled.Optimizer.Slot(slot, at weight)
                    match compiled.TrainableWeights.[at weight].KerasPermutation with
                    | null -> values t
                    | p -> values (t.permute p)
                Expect.equal (datasetValues h5 (sprintf "optimizer/vars/%d" (2 + 2 * i))) (keras "momentum") (sprintf "%s momentum" weight)
                Expect.equal (datasetValues h5 (sprintf "optimizer/vars/%d" (3 + 2 * i))) (keras "velocity") (sprintf "%s velocity" weight)
            Expect.isTrue ((datasetValues h5 "optimizer/vars/2") |> Array.exists (fun v -> v <> 0.0)) "the state is not all zero"
        }

        testList "a saved model loads back with the same outputs, compile config and optimizer state" [
            for name, make, outputs, _, _ in cases ->
                test name {
                    torchReady 24
                    let net, compiled = trained (make ()) outputs
                    use _ = net
                    let path = temp "m.keras"
                    net.Save path
                    use back = ModelFile.Load path
                    let shape = net.Declaration.InputShapes.[0].ToKnownArray() |> Array.map int64
                    use x = torch.randn(Array.append [| 5L |] shape)
                    use before = net.Predict x
                    use after = back.Predict x
                    Expect.equal (values after) (values before) "identical predictions"
                    Expect.equal back.Declaration net.Declaration "the same declaration"
                    let restored = back.GetCompiled()
                    Expect.equal restored.Optimizer.ClassName "Adam" "optimizer"
                    Expect.equal restored.Optimizer.LearningRate 0.01 "the exact learning rate (the config's, not the float32 variable's)"
                    Expect.equal restored.Optimizer.Iterations compiled.Optimizer.Iterations "iterations"
                    Expect.equal restored.Losses.[0].ClassName "MeanSquaredError" "loss"
                    let slots (c: CompiledModel) =
                        [ for i, w in Seq.indexed c.TrainableWeights do
                            for s in c.Optimizer.SlotNames -> w.Name, s, values (c.Optimizer.Slot(s, i)) ]
                    Expect.sequenceEqual (slots restored |> List.sortBy (fun (w, s, _) -> w, s)) (slots compiled |> List.sortBy (fun (w, s, _) -> w, s)) "every slot of every weight"
                }
        ]

        test "hyper-parameters, the loss's arguments and the metrics round-trip" {
            torchReady 25
            use net = BuiltNetwork.Build(Sequential([| Input(4) :> Layer; Dense(1, activation = "sigmoid") |]))
            net.Compile(Adam(learningRate = 0.002, beta1 = 0.8, beta2 = 0.99, epsilon = 1e-6, amsgrad = true, clipNorm = 1.5),
                        BinaryCrossentropy(fromLogits = false, labelSmoothing = 0.1), [| "accuracy"; "mse" |]) |> ignore
            let path = temp "m.keras"
            net.Save path
            use back = ModelFile.Load path
            let c = back.GetCompiled()
            match c.Optimizer with
            | :? Adam as a ->
                Expect.equal (a.LearningRate, a.Beta1, a.Beta2, a.Epsilon, a.Amsgrad, a.ClipNorm) (0.002, 0.8, 0.99, 1e-6, true, Nullable 1.5) "Adam's arguments"
            | o -> failtestf "expected Adam, got %s" o.ClassName
            match c.Losses.[0] with
            | :? BinaryCrossentropy as l -> Expect.equal (l.LabelSmoothing, l.FromLogits) (0.1, false) "the loss's arguments"
            | l -> failtestf "expected BinaryCrossentropy, got %s" l.ClassName
            Expect.equal [ for m in c.Metrics -> m.Name ] [ "accuracy"; "mse" ] "metrics by name"
            Expect.isFalse (KerasH5.WrittenKerasVersion = "") "version"
        }

        test "an uncompiled model is saved without compile_config and loads uncompiled" {
            torchReady 26
            use net = BuiltNetwork.Build(lstm ())
            let path = temp "m.keras"
            net.Save path
            use zip = ZipFile.OpenRead path
            let config = JsonNode.Parse(Text.Encoding.UTF8.GetString(entryBytes zip "config.json")).AsObject()
            Expect.isFalse (config.ContainsKey "compile_config") "no compile_config"
            Expect.isFalse (dump (entryBytes zip "model.weights.h5") |> List.exists (fun l -> l.StartsWith "optimizer")) "no optimizer group"
            use back = ModelFile.Load path
            Expect.throwsT<InvalidOperationException> (fun () -> back.GetCompiled() |> ignore) "not compiled"
        }

        test "training resumes exactly: 2 epochs straight = 1 epoch, save, load, 1 epoch (Adam, BatchNormalization)" {
            torchReady 27
            // float32 throughout: the state is written in its own dtype and the learning rate comes back exactly, so the
            // resumed run repeats the unbroken one bit for bit (no shuffling: a .keras file, as Keras's, keeps no RNG state).
            let declare () = Sequential([| Input(4) :> Layer; Dense(8, activation = "tanh"); BatchNormalization(); Dense(3, activation = "softmax") |])
            torch.manual_seed 3L |> ignore
            use x = torch.randn(64L, 4L)
            use y = (x.select(1L, 0L).gt((0.0).ToScalar()).to_type(torch.ScalarType.Int64) + x.select(1L, 1L).gt((0.5).ToScalar()).to_type(torch.ScalarType.Int64))
            let start = temp "start.keras"
            do
                use first = BuiltNetwork.Build(declare ())
                first.Save start
            let fit (net: BuiltNetwork) epochs = net.Fit(x, y, batchSize = 16, epochs = epochs, verbose = Verbose 0, shuffle = false) |> ignore
            let compile (net: BuiltNetwork) = net.Compile(Adam(learningRate = 0.01), SparseCategoricalCrossentropy(), [| "accuracy" |]) |> ignore
            use straight = ModelFile.Load start
            compile straight
            fit straight 2
            use half = ModelFile.Load start
            compile half
            fit half 1
            let middle = temp "middle.keras"
            half.Save middle
            use resumed = ModelFile.Load middle
            Expect.equal (resumed.GetCompiled().Optimizer.Iterations) 4L "4 steps restored"
            fit resumed 1
            let weights (n: BuiltNetwork) = [ for w in n.Weights -> w.Name, values (w.KerasView()) ]
            Expect.sequenceEqual (weights resumed) (weights straight) "identical weights after the second epoch"
        }

        test "a Keras 3 weights file sharded with a .weights.json index loads; a shard name that leaves the folder is refused" {
            torchReady 28
            let net, _ = trained (graph ()) 2
            use _ = net
            let path = temp "m.keras"
            net.Save path
            let dir = Path.GetDirectoryName path
            use zip = ZipFile.OpenRead path
            let h5 = entryBytes zip "model.weights.h5"
            File.WriteAllBytes(Path.Combine(dir, "model_00000.weights.h5"), h5)
            // ShardedH5IOStore's index: each vars group holding variables → its shard.
            let groups = dump h5 |> List.filter (fun l -> l.EndsWith "]") |> List.map (fun l -> l.Substring(0, l.IndexOf "  ["))
            let map = JsonObject()
            for g in groups do map.["/" + g] <- JsonValue.Create "model_00000.weights.h5"
            let index = Path.Combine(dir, "model.weights.json")
            File.WriteAllText(index, JsonObject(dict [ "metadata", JsonObject(dict [ "total_size", JsonValue.Create 0 :> JsonNode ]) :> JsonNode; "weight_map", map :> JsonNode ]).ToJsonString())
            use fresh = BuiltNetwork.Build(graph ())
            fresh.LoadKerasWeights index
            use x = torch.randn(3L, 6L)
            use a = net.Predict x
            use b = fresh.Predict x
            Expect.equal (values b) (values a) "the sharded weights give the same outputs"
            map.["/layers/dense/vars"] <- JsonValue.Create "../model_00000.weights.h5"
            File.WriteAllText(index, JsonObject(dict [ "weight_map", map.DeepClone() ]).ToJsonString())
            let e = thrown<InvalidDataException> (fun () -> fresh.LoadKerasWeights index)
            Expect.stringContains e.Message "model.weights.json" "names the index"
            Expect.stringContains e.Message "/layers/dense/vars" "names the entry"
        }

        test "an archive whose weights are model.weights.npz (pickled by NpzIOStore) is refused, naming the file" {
            let path = temp "npz.keras"
            do
                use zip = ZipFile.Open(path, ZipArchiveMode.Create)
                for name, text in [ "metadata.json", """{"keras_version": "3.15.0"}"""; "config.json", Functional.Models.ModelConfig.ToJson(lstm ()); "model.weights.npz", "PK" ] do
                    use s = zip.CreateEntry(name).Open()
                    s.Write(Text.Encoding.UTF8.GetBytes text)
            let e = thrown<InvalidDataException> (fun () -> ModelFile.Load path |> ignore)
            Expect.stringContains e.Message "npz.keras" "the file"
            Expect.stringContains e.Message "pickled" "why"
        }

        test "a weights group with too few variables is named with its object and the model's weights" {
            torchReady 29
            use net = BuiltNetwork.Build(lstm ())
            let path = temp "m.keras"
            net.Save path
            // The same file declaring an LSTM of another size: the archive's cell holds (3, 16) kernels.
            use other = BuiltNetwork.Build(Sequential([| Input(5, 3) :> Layer; LSTM(5); Dense(2) |]))
            let e = thrown<InvalidDataException> (fun () -> other.LoadKerasWeights path)
            Expect.stringContains e.Message "layers/lstm/cell/vars/0" "the dataset"
            Expect.stringContains e.Message "m.keras" "the file"
        }

        test "the compile config of a Keras 3.9 archive (Adam, binary_crossentropy, accuracy) is read as Keras wrote it" {
            let path = kerasFixture "k3-functional-custom-layer-kdp" "test_model.keras"
            use zip = ZipFile.OpenRead path
            let compile = JsonNode.Parse(Text.Encoding.UTF8.GetString(entryBytes zip "config.json")).["compile_config"]
            match KerasCompileConfig.ReadOptimizer(compile.["optimizer"], path) with
            | :? Adam as a ->
                // Keras wrote its float32 variable's value: 0.0010000000474974513.
                Expect.equal (float32 a.LearningRate, a.Beta1, a.Beta2, a.Epsilon, a.Amsgrad, a.Name) (0.001f, 0.9, 0.999, 1e-7, false, "adam") "Adam's config"
                Expect.isFalse (a.ClipNorm.HasValue || a.ClipValue.HasValue || a.GlobalClipNorm.HasValue || a.WeightDecay.HasValue) "no clipping, no decay"
            | o -> failtestf "expected Adam, got %s" o.ClassName
            let losses = KerasCompileConfig.ReadLosses(compile.["loss"], path)
            Expect.equal [ for l in losses -> l.ClassName ] [ "BinaryCrossentropy" ] "the loss named binary_crossentropy"
            let metrics = KerasCompileConfig.ReadMetrics(compile.["metrics"], 1, path)
            Expect.equal [ for m in metrics.[0] -> m.Name ] [ "accuracy" ] "metrics"
        }

        test "the Keras 3.9 archive's optimizer/vars are iteration, learning_rate, then momentum and velocity interleaved" {
            // The model's trainable variables in model.layers order: the custom layer's projection Dense (5, 16) and (16,),
            // dense_2 (16, 8) and (8,), dense_3 (8, 1) and (1,) — each followed by its twin, as KerasOptimizerState writes.
            let path = kerasFixture "k3-functional-custom-layer-kdp" "test_model.keras"
            use zip = ZipFile.OpenRead path
            let optimizer = dump (entryBytes zip "model.weights.h5") |> List.filter (fun l -> l.StartsWith "optimizer/")
            let pairs = [ "5, 16"; "16,"; "16, 8"; "8,"; "8, 1"; "1," ] |> List.collect (fun s -> [ s; s ])
            Expect.sequenceEqual optimizer
                ([ "optimizer/vars  [attr name=adam]"; "optimizer/vars/0 () int64"; "optimizer/vars/1 () float32" ]
                 @ (pairs |> List.mapi (fun i s -> sprintf "optimizer/vars/%d (%s) float32" (i + 2) s)))
                "Keras's own order"
        }

        test "a compile config naming an optimizer option this library lacks is refused, naming it and the file" {
            let config = JsonNode.Parse("""{"module": "keras.optimizers", "class_name": "Adam", "config": {"learning_rate": 0.01, "use_ema": true}}""")
            let e = thrown<InvalidDataException> (fun () -> KerasCompileConfig.ReadOptimizer(config, "x.keras") |> ignore)
            Expect.stringContains e.Message "use_ema" "the option"
            Expect.stringContains e.Message "x.keras" "the file"
            let unknown = JsonNode.Parse("""{"module": "my.module", "class_name": "MyOptimizer", "config": {}, "registered_name": "custom>MyOptimizer"}""")
            let e = thrown<InvalidDataException> (fun () -> KerasCompileConfig.ReadOptimizer(unknown, "x.keras") |> ignore)
            Expect.stringContains e.Message "MyOptimizer" "the class"
        }

        test "a bfloat16 variable (2-byte values marked dtype=bfloat16, as H5IOStore writes them) loads as its float values" {
            // Keras's H5IOStore.__setitem__: a bfloat16 array is stored as its 2-byte values with ds.attrs["dtype"] = "bfloat16".
            let kernel = [| 1.5f; -2.0f; 0.25f; 3.0f |]
            let bytes = kernel |> Array.collect (fun v -> BitConverter.GetBytes(BitConverter.SingleToInt32Bits v >>> 16 |> uint16))
            let dataset = H5Dataset(bytes, fileDims = [| 2UL; 2UL |], opaqueInfo = H5OpaqueInfo(2u, "bfloat16"))
            dataset.Attributes.["dtype"] <- "bfloat16"
            let vars = H5Group()
            vars.["0"] <- dataset
            vars.Attributes.["name"] <- "dense"
            let dense = H5Group()
            dense.["vars"] <- vars
            let layers = H5Group()
            layers.["dense"] <- dense
            let file = H5File()
            file.["layers"] <- layers
            let path = temp "bf16.weights.h5"
            file.Write path
            use net = BuiltNetwork.Build(Sequential([| Input(2) :> Layer; Dense(2, useBias = false) |]))
            net.LoadKerasWeights path
            use k = (net.Weights |> Seq.head).KerasView()
            Expect.equal (values k) (kernel |> Array.map float) "the bfloat16 values, exactly"
        }

        test "keras.layers.RNN keeps its cell as `cell`, a StackedRNNCells its cells as the container `cells`" {
            torchReady 30
            let m = Sequential([| Input(5, 3) :> Layer; RNN(StackedRNNCells(LSTMCell(4), GRUCell(3))); Dense(2) |])
            use net = BuiltNetwork.Build m
            let path = temp "m.keras"
            net.Save path
            use zip = ZipFile.OpenRead path
            let lines = dump (entryBytes zip "model.weights.h5") |> List.filter (fun l -> l.StartsWith "layers/rnn")
            Expect.sequenceEqual lines
                [ "layers/rnn/cell/cells/gru_cell/vars  [attr name=gru_cell]"
                  "layers/rnn/cell/cells/gru_cell/vars/0 (4, 9) float32"
                  "layers/rnn/cell/cells/gru_cell/vars/1 (3, 9) float32"
                  "layers/rnn/cell/cells/gru_cell/vars/2 (2, 9) float32"
                  "layers/rnn/cell/cells/lstm_cell/vars  [attr name=lstm_cell]"
                  "layers/rnn/cell/cells/lstm_cell/vars/0 (3, 16) float32"
                  "layers/rnn/cell/cells/lstm_cell/vars/1 (4, 16) float32"
                  "layers/rnn/cell/cells/lstm_cell/vars/2 (16,) float32"
                  "layers/rnn/cell/vars  [attr name=stacked_rnn_cells]"
                  "layers/rnn/vars  [attr name=rnn]" ] "saving_lib's paths"
            use back = ModelFile.Load path
            use x = torch.randn(2L, 5L, 3L)
            use a = net.Predict x
            use b = back.Predict x
            Expect.equal (values b) (values a) "round trip"
        }

        test "a model with LoRA adapters is refused by Save (Keras merges them into the kernel), naming the adapter" {
            use net = BuiltNetwork.Build(Sequential([| Input(8) :> Layer; Dense(16).EnableLora(4) |]))
            let e = thrown<NotSupportedException> (fun () -> net.Save(temp "m.keras"))
            Expect.stringContains e.Message "dense/lora_kernel_a" "the adapter"
        }

        test "save refuses a path without the .keras extension, as Keras does" {
            use net = BuiltNetwork.Build(lstm ())
            let e = thrown<ArgumentException> (fun () -> net.Save(temp "m.h5"))
            Expect.stringContains e.Message "expected a `.keras` extension" "Keras's message"
        }
    ]
