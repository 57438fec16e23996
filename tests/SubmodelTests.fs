/// Issue 15 item 4, transfer learning as Keras does it: models declared from another model's layers
/// (`new Model(model.Input, model.GetLayer("block5_pool").Output)`), keeping the weights the model was declared with;
/// frozen (non-trainable) models nested in bigger ones; Applications' `weights: path` taking a Keras HDF5 weights file.
module Functional.Tests.SubmodelTests

open System
open System.IO
open Expecto
open TorchSharp
open Functional
open Functional.Shapes
open Functional.Layers
open Functional.Models
open Functional.Torch.Building
open Functional.Torch.Saving
open Functional.Tests.Support

type G = Functional.Models.Graph

let private tempFile (ext: string) =
    let d = Path.Combine(Path.GetTempPath(), "functional-sub-" + Guid.NewGuid().ToString "N")
    Directory.CreateDirectory d |> ignore
    Path.Combine(d, "weights" + ext)

/// Three Dense layers: dense (6), dense_1 (5), dense_2 (3).
let private mlp () =
    let x = G.Input(8)
    let h = Dense(6, activation = "relu").Call x
    let h = Dense(5, activation = "relu").Call h
    x, Model(x, Dense(3).Call h)

let private names (m: Model) = m.Operations |> Seq.map (fun o -> o.Name) |> List.ofSeq

/// Every weight of a built network by name, as Keras-layout float64 arrays.
let private weightsOf (net: BuiltNetwork) =
    net.Weights
    |> Seq.map (fun w ->
        use v = w.KerasView()
        use c = v.detach().cpu().to_type(torch.float64).contiguous()
        w.Name, c.data<float>().ToArray())
    |> Map.ofSeq

/// Keras 2's `save_weights` HDF5 layout (what keras-applications' published ImageNet files hold): root attributes
/// `layer_names` (every layer, in the model's order), `backend`, `keras_version`; one group per layer whose attribute
/// `weight_names` ("layer/kernel:0", …; an empty float64 array for a layer without weights) names datasets nested by the
/// `/` in those names (KerasLegacyTests.layerGroup). Written with PureHDF from a built network.
let private writeKeras2Weights (net: BuiltNetwork) (path: string) =
    let file = PureHDF.H5File()
    let layers = net.Graph.Operations |> Seq.filter (fun o -> not o.IsInput) |> Seq.map (fun o -> o.Name) |> List.ofSeq
    file.Attributes.["layer_names"] <- Array.ofList layers
    file.Attributes.["backend"] <- "tensorflow"
    file.Attributes.["keras_version"] <- "2.2.4"
    let weightsOf (layer: string) =
        [ for w in net.Weights do
            if w.Name.StartsWith(layer + "/") then
                use v = w.KerasView()
                use c = v.detach().cpu().contiguous()
                yield w.Name.Substring(layer.Length + 1), c.data<float32>().ToArray(), Array.map uint64 c.shape ]
    for layer in layers do file.[layer] <- KerasLegacyTests.layerGroup layer (weightsOf layer)
    file.Write path

/// Builds the model with fresh weights and saves them (safetensors).
let private saveFresh (m: IModel) (path: string) =
    use net = BuiltNetwork.Build m
    net.SaveWeights path

let private fixtureDir () =
    let dir = Path.GetFullPath(Path.Combine(ExampleScriptTests.repoRoot (), "..", "shared", "keras-fixtures"))
    if not (Directory.Exists dir) then skiptestf "the Keras fixtures are not at %s (they live in shared/, outside the repository)" dir
    dir

[<Tests>]
let tests =
    testList "Models from other models' layers" [
        testList "declared (pure)" [
            test "model.Input is the tensor the model was declared from; GetLayer(name).Output declares a feature extractor with the same layers" {
                let x, m = mlp ()
                Expect.isTrue (obj.ReferenceEquals(m.Input, x)) "model.Input is Keras's model.input: the very tensor"
                let f = Model(m.Input, m.GetLayer("dense_1").Output, name = "features")
                Expect.equal (names f) (names m |> List.take 3) "the extractor holds the model's input, dense and dense_1, under the same names"
                Expect.equal (List.ofSeq f.OutputShapes) [ Shape(5) ] "dense_1's output shape"
                for n in [ "dense"; "dense_1" ] do
                    Expect.equal (f.GetLayer(n).Layer) (m.GetLayer(n).Layer) (sprintf "%s is the same layer record" n)
                Expect.equal f.ParameterCount (8L * 6L + 6L + 6L * 5L + 5L) "two layers' weights"
                // The original input tensor works as well as model.Input, and both give the same model.
                Expect.equal (Model(x, m.GetLayer("dense_1").Output, name = "features")) f "the same declaration from the original input"
                Expect.isNull f.WeightsFile "no weights file when the model had none"
            }

            test "a new head on a layer's output keeps the taken layers' names and gives new layers fresh ones" {
                let _, m = mlp ()
                let head = Dense(2).Call(m.GetLayer("dense_1").Output)
                let t = Model(m.Input, head)
                let ns = names t
                Expect.equal (List.take 3 ns) (names m |> List.take 3) "taken layers keep their names"
                Expect.equal (List.length (List.distinct ns)) ns.Length "names stay unique"
                Expect.isFalse (List.contains (List.last ns) [ "dense"; "dense_1" ]) "the head does not take a name of the model's layers"
            }

            test "works on models read from JSON, on Sequential stacks and on shared layers (GetOutputsAt)" {
                let _, m = mlp ()
                let j = ModelConfig.FromJson(m.ToJson()) :?> Model
                let f = Model(j.Input, j.GetLayer("dense").Output)
                Expect.equal (List.ofSeq f.OutputShapes) [ Shape(6) ] "from a config-read model"
                let s = Sequential(Input(4), Dense(3, Name = "a"), Dense(2, Name = "b"))
                let g = Model(s.AsGraph().Input, s.GetLayer("a").Output)
                Expect.equal (List.ofSeq g.OutputShapes) [ Shape(3) ] "from a Sequential's layer"
                Expect.equal (names g |> List.last) "a" "the stack's layer"
                // A layer applied twice: Output is its first application's tensor (Keras 3), GetOutputsAt(i) any.
                let a, b = G.Input(4), G.Input(4)
                let shared = Dense(3, Name = "shared")
                let m2 = Model([ a; b ], [ Add().Call(shared.Call a, shared.Call b) ])
                let first = Model(m2.InputTensors.[0], m2.GetLayer("shared").Output)
                let second = Model(m2.InputTensors.[1], m2.GetLayer("shared").GetOutputsAt(1).[0])
                Expect.equal (first.Inputs.Length, second.Inputs.Length) (1, 1) "each takes the input its node uses"
                throwsWith<ArgumentOutOfRangeException> [ "shared"; "2 inbound node(s)" ] (fun () -> m2.GetLayer("shared").GetOutputsAt(2) |> ignore)
                throwsWith<InvalidOperationException> [ "2 inputs"; "InputTensors" ] (fun () -> m2.Input |> ignore)
                throwsWith<InvalidOperationException> [ "input_layer"; "0 inputs" ] (fun () -> m2.GetLayer(m2.Inputs.[0].Layer).Input |> ignore)
            }

            test "a layer with two outputs asks for GetOutputsAt" {
                let x = G.Input(4)
                let inner = Model([ x ], [ Dense(2).Call x; Dense(3).Call x ], name = "two")
                let z = G.Input(4)
                let outer = Model([ z ], inner.CallMany(z))
                throwsWith<InvalidOperationException> [ "two"; "2 outputs"; "GetOutputsAt" ] (fun () -> outer.GetLayer("two").Output |> ignore)
                let both = outer.GetLayer("two").GetOutputsAt(0)
                Expect.equal (both |> Seq.map (fun t -> t.Shape) |> List.ofSeq) [ Shape(2); Shape(3) ] "both outputs"
            }

            test "WithTrainable(false) freezes every layer, nested models' too; counts say so" {
                let _, m = mlp ()
                let frozen = m.WithTrainable false
                Expect.equal frozen.ParameterCount m.ParameterCount "same weights"
                Expect.equal frozen.TrainableParameterCount 0L "none trainable"
                Expect.equal (names frozen) (names m) "same layers"
                let z = G.Input(8)
                let outer = Model(z, Dense(1, Name = "head").Call(frozen.Call z))
                Expect.equal outer.TrainableParameterCount 4L "only the head trains"
                Expect.stringContains (outer.Summary()) "Non-trainable params: 107" "the summary counts the frozen model's weights"
                let again = outer.WithTrainable false
                Expect.equal again.TrainableParameterCount 0L "freezing the outer model reaches the head"
                Expect.equal ((again.WithTrainable true).TrainableParameterCount) outer.ParameterCount "and unfreezing reaches the nested model"
                let s = Sequential(Input(4), Dense(3), BatchNormalization())
                Expect.equal ((s.WithTrainable false).TrainableParameterCount) 0L "a Sequential freezes too"
                Expect.equal (((s :> IModel).WithTrainable false).TrainableParameterCount) 0L "through IModel as well"
            }
        ]

        testSequenced <| testList "built" [
            test "a model from a layer's output keeps the weights of the model's weights file (by name); new layers keep their initializers" {
                torchReady 5
                let _, m = mlp ()
                let file = tempFile ".safetensors"
                saveFresh m file
                let md = m.WithWeightsFile file
                use parent = BuiltNetwork.Build md
                let expected = weightsOf parent
                let sub = Model(md.Input, Dense(2, Name = "head").Call(md.GetLayer("dense_1").Output))
                Expect.equal sub.WeightsFile md.WeightsFile "the layers' weights file comes along"
                Expect.isTrue sub.WeightsFileByName "loaded by name"
                torchReady 6
                use built = BuiltNetwork.Build sub
                let got = weightsOf built
                for n in [ "dense/kernel"; "dense/bias"; "dense_1/kernel"; "dense_1/bias" ] do
                    Expect.equal got.[n] expected.[n] (sprintf "%s is the file's" n)
                Expect.isTrue (got.ContainsKey "head/kernel") "the new head is there"
                Expect.isTrue (got.["head/kernel"] |> Array.exists (fun v -> v <> 0.0)) "initialised by its initializer"
                // The extractor computes what the model computes at dense_1.
                let features = Model(md.Input, md.GetLayer("dense_1").Output)
                use f = BuiltNetwork.Build features
                use x = torch.randn(4L, 8L)
                use y = f.forward x
                use w0 = torch.tensor(expected.["dense/kernel"]).reshape(8L, 6L)
                use b0 = torch.tensor(expected.["dense/bias"])
                use w1 = torch.tensor(expected.["dense_1/kernel"]).reshape(6L, 5L)
                use b1 = torch.tensor(expected.["dense_1/bias"])
                use reference = torch.nn.functional.relu(torch.nn.functional.relu(x.to_type(torch.float64).matmul(w0) + b0).matmul(w1) + b1)
                Expect.isTrue (y.to_type(torch.float64).allclose(reference, rtol = 1e-5, atol = 1e-6)) "dense_1's activations"
                // Layers from two models with different files cannot share one model.
                let x2 = G.Input(8)
                let m2 = Model(x2, Dense(4, Name = "other").Call x2)
                let other = tempFile ".safetensors"
                saveFresh m2 other
                let m2d = m2.WithWeightsFile other
                throwsWith<ArgumentException> [ "different weights files"; file; other ] (fun () ->
                    Model([ md.Input; m2d.Input ], [ Concatenate().Call(md.GetLayer("dense").Output, m2d.GetLayer("other").Output) ]) |> ignore)
            }

            test "LoadWeights(path, byName, skipMismatch) as Keras: by name, the file's other layers ignored, differing shapes kept only when asked" {
                torchReady 10
                let _, m = mlp ()
                let file = tempFile ".safetensors"
                saveFresh m file
                use source = BuiltNetwork.Build(m.WithWeightsFile file)
                let expected = weightsOf source
                // Same names for the body; a new 4-class head under the old head's name, and an extra layer.
                let x = G.Input(8)
                let h = Dense(6, activation = "relu", Name = "dense").Call x
                let h = Dense(5, activation = "relu", Name = "dense_1").Call h
                let target = Model(x, Dense(2, Name = "extra").Call(Dense(4, Name = "dense_2").Call h))
                use net = BuiltNetwork.Build target
                throwsWith<ArgumentException> [ "skipMismatch"; "byName" ] (fun () -> net.LoadWeights(file, skipMismatch = true))
                throwsWith<InvalidDataException> [ "dense_2/kernel"; "(5, 3)"; "(5, 4)" ] (fun () -> net.LoadWeights(file, byName = true))
                let before = weightsOf net
                net.LoadWeights(file, byName = true, skipMismatch = true)
                let after = weightsOf net
                for n in [ "dense/kernel"; "dense/bias"; "dense_1/kernel"; "dense_1/bias" ] do
                    Expect.equal after.[n] expected.[n] (sprintf "%s loaded by name" n)
                for n in [ "dense_2/kernel"; "dense_2/bias"; "extra/kernel" ] do
                    Expect.equal after.[n] before.[n] (sprintf "%s kept (mismatched or absent)" n)
            }

            test "training a model around a frozen nested model changes only the head" {
                torchReady 7
                let _, m = mlp ()
                let z = G.Input(8)
                let outer = Model(z, Dense(1, Name = "head").Call((m.WithTrainable false).Call z))
                use net = BuiltNetwork.Build outer
                let before = weightsOf net
                use x = torch.randn(16L, 8L)
                use t = torch.randn(16L, 1L)
                use opt = torch.optim.SGD(net.TrainableParameters, 0.1)
                net.TrainStep(x, t, (fun p y -> torch.nn.functional.mse_loss(p, y)), opt) |> ignore
                let after = weightsOf net
                for KeyValue(n, v) in before do
                    if n.StartsWith "head/" then Expect.notEqual after.[n] v (sprintf "%s trained" n)
                    else Expect.equal after.[n] v (sprintf "%s stayed frozen" n)
            }

            test "Applications' weights: path takes Keras 2's HDF5 weights layout (keras-applications' published files) and a by-name sub-model of it" {
                torchReady 8
                let app () = Applications.MobileNet(inputShape = Shape(32, 32, 3), alpha = 0.25, includeTop = false)
                let file = tempFile ".h5"
                let expected =
                    use source = BuiltNetwork.Build(app ())
                    writeKeras2Weights source file
                    weightsOf source
                torchReady 9
                let declared = Applications.MobileNet(inputShape = Shape(32, 32, 3), alpha = 0.25, includeTop = false, weights = file)
                use net = BuiltNetwork.Build declared
                let got = weightsOf net
                Expect.equal (Set.ofSeq got.Keys) (Set.ofSeq expected.Keys) "the same weights"
                for KeyValue(n, v) in expected do Expect.equal got.[n] v (sprintf "%s came from the file" n)
                // Transfer learning: the first blocks as a feature extractor, loaded by name from the same Keras file.
                let features = Model(declared.Input, declared.GetLayer("conv_pw_3_relu").Output)
                use f = BuiltNetwork.Build features
                let fw = weightsOf f
                Expect.isLessThan fw.Count got.Count "fewer layers"
                for KeyValue(n, v) in fw do Expect.equal v got.[n] (sprintf "%s came from the file by name" n)
                // Frozen inside a classifier (the README's recipe): the nested extractor builds with the file's weights and
                // only the head trains.
                let z = G.Input(32, 32, 3)
                let frozen = features.WithTrainable false
                let outer = Model(z, Dense(2, Name = "cls").Call(GlobalAveragePooling2D().Call(frozen.Call z)))
                Expect.equal outer.TrainableParameterCount (outer.GetLayer("cls").ParameterCount) "only the head is trainable"
                use o = BuiltNetwork.Build outer
                let ow = weightsOf o
                let nested = ow |> Map.filter (fun n _ -> not (n.StartsWith "cls/"))
                Expect.equal nested.Count fw.Count "the extractor's weights, once"
                for KeyValue(n, v) in nested do
                    let key = if got.ContainsKey n then n else n.Substring(n.IndexOf '/' + 1)
                    Expect.equal v got.[key] (sprintf "%s came from the file inside the classifier" n)
                Expect.equal (o.TrainableParameters |> Seq.sumBy (fun p -> p.numel())) (outer.TrainableParameterCount) "built trainable weights: the head's"
            }

            test "a Keras-written JSON + weights file pair: WithWeightsFile loads Keras's HDF5 when the model is built" {
                let dir = fixtureDir ()
                let declaration = ModelConfig.FromJson(File.ReadAllText(Path.Combine(dir, "kotlindl-toyresnet", "modelConfig.json"))) :?> Model
                let weights = Path.Combine(dir, "kotlindl-toyresnet", "weights.h5")
                use reference = BuiltNetwork.Build declaration
                reference.LoadKerasWeights weights
                let expected = weightsOf reference
                use net = BuiltNetwork.Build(declaration.WithWeightsFile weights)
                Expect.equal (weightsOf net) expected "the same weights as LoadKerasWeights"
                let last = declaration.Operations |> Seq.filter (fun o -> o.ClassName = "Conv2D") |> Seq.last
                let withFile = declaration.WithWeightsFile weights
                let sub = Model(withFile.Input, withFile.GetLayer(last.Name).Output)
                use s = BuiltNetwork.Build sub
                for KeyValue(n, v) in weightsOf s do Expect.equal v expected.[n] (sprintf "%s loaded by name from Keras's file" n)
            }
        ]
    ]
