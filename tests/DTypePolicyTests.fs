/// Dtype policies (Keras's DTypePolicy and mixed precision) and the LossScaleOptimizer.
module Functional.Tests.DTypePolicyTests

open System
open System.Text.Json.Nodes
open System.Threading.Tasks
open Expecto
open TorchSharp
open Functional
open Functional.Shapes
open Functional.Functions
open Functional.Data
open Functional.Torch.Data
open Functional.Layers
open Functional.Models
open Functional.Torch
open Functional.Torch.Building
open Functional.Training
open Functional.Torch.Training
open Functional.Tests.Support
open Functional.Tests.LossTests

let private policy (name: string) = DTypePolicy name

/// The values of a tensor as float64, row-major.
let private values (t: torch.Tensor) = t.detach().cpu().to_type(torch.ScalarType.Float64).contiguous().data<float>().ToArray()

/// x·W + b with W (in, units) in Keras's layout, naively, in float64.
let private naiveDense (x: float[,]) (w: float[,]) (b: float[]) (relu: bool) =
    let n, k, u = Array2D.length1 x, Array2D.length2 x, Array2D.length2 w
    Array2D.init n u (fun i j ->
        let mutable s = b.[j]
        for l in 0 .. k - 1 do s <- s + x.[i, l] * w.[l, j]
        if relu then max s 0.0 else s)

let private weight (net: BuiltNetwork) (name: string) =
    let w = net.Weights |> Seq.find (fun w -> w.Name = name)
    use v = w.KerasView()
    let shape = v.shape
    let data = values v
    if shape.Length = 2 then Array2D.init (int shape.[0]) (int shape.[1]) (fun i j -> data.[i * int shape.[1] + j]) |> Choice1Of2
    else Choice2Of2 data

[<Tests>]
let policyTests =
    testList "DTypePolicy" [
        test "each Keras policy name gives Keras's compute and variable dtypes" {
            for name, compute, variable in
                [ "float32", "float32", "float32"; "float64", "float64", "float64"; "float16", "float16", "float16"
                  "bfloat16", "bfloat16", "bfloat16"; "mixed_float16", "float16", "float32"; "mixed_bfloat16", "bfloat16", "float32" ] do
                let p = policy name
                Expect.equal p.Name name "name"
                Expect.equal p.ComputeDtype compute (name + " compute")
                Expect.equal p.VariableDtype variable (name + " variable")
                Expect.equal p.IsMixed (compute <> variable) (name + " mixed")
        }

        test "a name that is neither a mixed policy nor a dtype is refused with Keras's message" {
            for bad in [ "mixed_float32"; "Float32"; "fp16"; "" ] do
                throwsWith<ArgumentException>
                    [ sprintf "Cannot convert '%s' to a mixed precision DTypePolicy" bad; "'mixed_float16', 'mixed_bfloat16'" ]
                    (fun () -> DTypePolicy bad |> ignore)
        }

        test "Keras's dtype aliases are written in their standard form" {
            Expect.equal (policy "float").Name "float32" "float"
            Expect.equal (policy "int").Name "int64" "int"
            Expect.equal (policy "double").Name "float64" "double"
        }

        test "a layer takes the policy in force when it is constructed, and keeps it" {
            let before = Dense(3)
            let inside, nested =
                using (DTypePolicy.Use(DTypePolicy.MixedBFloat16)) (fun _ ->
                    let d = Dense(3)
                    d, using (DTypePolicy.Use(DTypePolicy.Float64)) (fun _ -> Dense(3)))
            let after = Dense(3)
            Expect.equal before.Dtype DTypePolicy.Default "before the scope"
            Expect.equal inside.Dtype DTypePolicy.MixedBFloat16 "in the scope"
            Expect.equal nested.Dtype DTypePolicy.Float64 "in a nested scope"
            Expect.equal after.Dtype DTypePolicy.Default "after the scope"
            Expect.equal (Dense(3, Dtype = Unchecked.defaultof<_>)).Dtype DTypePolicy.Default "null is the current policy"
        }

        test "a scope flows into the tasks it starts but not to other threads" {
            use _ = DTypePolicy.Use(DTypePolicy.Float64)
            let inTask = Task.Run(fun () -> Dense(2).Dtype).Result
            let mutable onThread = DTypePolicy.Float64
            let t = Threading.Thread(fun () -> onThread <- Dense(2).Dtype)
            using (Threading.ExecutionContext.SuppressFlow()) (fun _ -> t.Start())
            t.Join()
            Expect.equal inTask DTypePolicy.Float64 "a task started in the scope"
            Expect.equal onThread DTypePolicy.Default "a thread started without the scope's context"
        }

        test "integer dtypes are for Input only, and the default must be floating" {
            Expect.equal (Input(3, Dtype = policy "int32")).TensorDtype "int32" "Input(dtype=int32)"
            throwsWith<ArgumentException> [ "Dense"; "dtype"; "'int32'"; "integer dtypes are for Input" ]
                (fun () -> Dense(2, Dtype = policy "int32") |> ignore)
            throwsWith<ArgumentException> [ "policy"; "'int64'" ] (fun () -> DTypePolicy.Default <- policy "int64")
            throwsWith<ArgumentNullException> [ "Default" ] (fun () -> DTypePolicy.Default <- Unchecked.defaultof<_>)
        }

        test "an Input under a mixed policy carries float32 tensors" {
            Expect.equal (Input(3, Dtype = DTypePolicy.MixedBFloat16)).TensorDtype "float32" "mixed_bfloat16"
            Expect.equal (Input(3, Dtype = DTypePolicy.Float64)).TensorDtype "float64" "float64"
        }
    ]

[<Tests>]
let configTests =
    testList "DTypePolicy configs" [
        test "a layer's policy is written as Keras 3's DTypePolicy object and read back" {
            let layer = Dense(4, activation = "relu", Dtype = DTypePolicy.MixedBFloat16, Name = "d")
            let json = LayerConfig.Serialize layer
            let dtype = json.["config"].["dtype"]
            Expect.equal (dtype.ToJsonString())
                """{"module":"keras","class_name":"DTypePolicy","config":{"name":"mixed_bfloat16"},"registered_name":null}""" "written"
            Expect.equal (LayerConfig.FromJson(LayerConfig.ToJson layer)) (layer :> Layer) "round trip"
        }

        test "every policy round-trips through a model config" {
            for name in [ "float32"; "float64"; "float16"; "bfloat16"; "mixed_float16"; "mixed_bfloat16" ] do
                let model = Sequential(Input(3, Dtype = policy name), Dense(2, Dtype = policy name), Dense(1, Dtype = DTypePolicy.Float32))
                let back = ModelConfig.FromJson(model.ToJson()) :?> Sequential
                Expect.sequenceEqual (back.Layers |> Seq.map (fun l -> l.Dtype)) (model.Layers |> Seq.map (fun l -> l.Dtype)) name
                Expect.equal back.Input.TensorDtype model.Input.TensorDtype (name + " input")
        }

        test "plain dtype strings and Keras 2's Policy objects are read too" {
            let read (dtype: string) =
                LayerConfig.FromJson(sprintf """{"class_name": "Dense", "config": {"units": 2, "dtype": %s}}""" dtype)
            Expect.equal (read "\"mixed_float16\"").Dtype DTypePolicy.MixedFloat16 "string"
            Expect.equal (read """{"class_name": "Policy", "config": {"name": "mixed_bfloat16"}}""").Dtype DTypePolicy.MixedBFloat16 "Keras 2"
            Expect.equal (read """{"module": "keras", "class_name": "FloatDTypePolicy", "config": {"name": "float64"}}""").Dtype DTypePolicy.Float64 "Keras 3.0"
        }

        test "a bad dtype in a config names the path and the value" {
            let read (dtype: string) () =
                LayerConfig.FromJson(sprintf """{"class_name": "Dense", "config": {"units": 2, "dtype": %s}}""" dtype) |> ignore
            throwsWith<ModelConfigException> [ "$.config.dtype"; "Cannot convert 'mixed_float8'" ] (read "\"mixed_float8\"")
            throwsWith<ModelConfigException> [ "$.config.dtype.config.name"; "'float12'" ]
                (read """{"class_name": "DTypePolicy", "config": {"name": "float12"}}""")
            throwsWith<ModelConfigException> [ "$.config.dtype.class_name"; "QuantizedDTypePolicy" ]
                (read """{"class_name": "QuantizedDTypePolicy", "config": {"name": "int8_from_float32"}}""")
            throwsWith<ModelConfigException> [ "$.config.dtype"; "integer dtypes are for Input" ] (read "\"int32\"")
            throwsWith<ModelConfigException> [ "$.config.dtype" ] (read "42")
        }

        test "an Input's dtype is written as Keras writes it, a plain string, integer ones included" {
            let model = Sequential(Input(5, Dtype = policy "int32"), Dense(2))
            let json = ModelConfig.Serialize model
            Expect.equal (json.["config"].["layers"].[0].["config"].["dtype"].GetValue<string>()) "int32" "written"
            let back = ModelConfig.FromJson(json.ToJsonString()) :?> Sequential
            Expect.equal back.Input.TensorDtype "int32" "read"
        }
    ]

[<Tests>]
let buildTests =
    testSequenced <| testList "DTypePolicy building" [
        test "a float64 model computes what a float64 naive computation does" {
            torchReady 7
            let model = Sequential(Input(5, Dtype = DTypePolicy.Float64), Dense(4, activation = "relu", Dtype = DTypePolicy.Float64),
                                   Dense(3, Dtype = DTypePolicy.Float64))
            use net = BuiltNetwork.Build model
            for w in net.Weights do Expect.equal w.Parameter.dtype torch.ScalarType.Float64 (w.Name + " is float64")
            let xs = Array2D.init 6 5 (fun i j -> sin (float (7 * i + j)) * 3.0 + 1e-9 * float j)
            use x = torch.tensor(xs |> Seq.cast<float> |> Array.ofSeq, dtype = torch.ScalarType.Float64).reshape(6L, 5L)
            use y = net.forward x
            Expect.equal y.dtype torch.ScalarType.Float64 "output dtype"
            let get name = match weight net name with Choice1Of2 m -> m | _ -> failwith "2-D"
            let vec name = match weight net name with Choice2Of2 v -> v | _ -> failwith "1-D"
            let h = naiveDense xs (get "dense/kernel") (vec "dense/bias") true
            let expected = naiveDense h (get "dense_1/kernel") (vec "dense_1/bias") false
            let actual = values y
            Array2D.iteri (fun i j e -> close 1e-12 actual.[i * 3 + j] e (sprintf "[%d, %d]" i j)) expected
        }

        test "mixed_bfloat16: weights stay float32, every layer's output is bfloat16, gradients reach the float32 weights" {
            torchReady 8
            let model =
                using (DTypePolicy.Use(DTypePolicy.MixedBFloat16)) (fun _ ->
                    Sequential(Input(8, 8, 1), Conv2D(4, 3, activation = "relu"), BatchNormalization(), MaxPooling2D(2),
                               Flatten(), Dense(10, activation = "softmax")))
            use net = BuiltNetwork.Build model
            for w in net.Weights do Expect.equal w.Parameter.dtype torch.ScalarType.Float32 (w.Name + " is float32")
            for l in net.BuiltLayers do Expect.equal l.ComputeType torch.ScalarType.BFloat16 (l.Layer.Describe())
            use x = torch.rand(3L, 8L, 8L, 1L)
            let context = ForwardContext(true)
            let y = net.Forward([| x |], context).[0]
            Expect.equal y.dtype torch.ScalarType.BFloat16 "output"
            Expect.floatClose { absolute = 0.03; relative = 0.0 } (y.to_type(torch.ScalarType.Float32).sum().item<float32>() |> float) 3.0 "softmax rows sum to 1 (to bfloat16's 8 bits)"
            y.to_type(torch.ScalarType.Float32).square().sum().backward()
            for w in net.Weights |> Seq.filter (fun w -> w.Trainable) do
                Expect.isNotNull w.Parameter.grad (w.Name + " has a gradient")
                Expect.equal w.Parameter.grad.dtype torch.ScalarType.Float32 (w.Name + " gradient is float32")
        }

        test "a float32 layer inside a mixed model computes and returns float32" {
            torchReady 9
            let model =
                using (DTypePolicy.Use(DTypePolicy.MixedBFloat16)) (fun _ ->
                    Sequential(Input(6), Dense(5, activation = "relu"), Dense(3, activation = "softmax", Dtype = DTypePolicy.Float32)))
            use net = BuiltNetwork.Build model
            use x = torch.rand(2L, 6L)
            use y = net.forward x
            Expect.equal y.dtype torch.ScalarType.Float32 "the last layer's float32 output"
        }

        test "an int32 Input casts what it is given to int32, and the next layer computes in float32" {
            torchReady 10
            let model = Sequential(Input(3, Dtype = policy "int32"), Dense(2))
            use net = BuiltNetwork.Build model
            use x = torch.tensor([| 1.7f; -2.2f; 3.9f; 0.4f; 5.5f; -0.9f |]).reshape(2L, 3L)
            use truncated = torch.tensor([| 1.0f; -2.0f; 3.0f; 0.0f; 5.0f; 0.0f |]).reshape(2L, 3L)
            use y = net.forward x
            use z = net.forward truncated
            Expect.equal y.dtype torch.ScalarType.Float32 "Dense's output"
            Expect.sequenceEqual (values y) (values z) "the same as the truncated values"
        }

        test "net.to(float64) still makes a float64 twin of a float32 model" {
            torchReady 11
            let model = Sequential(Input(4), Dense(3, activation = "tanh"), Dense(2))
            use net = BuiltNetwork.Build model
            net.``to``(torch.ScalarType.Float64) |> ignore
            use x = torch.rand(2L, 4L, dtype = torch.ScalarType.Float64)
            use y = net.forward x
            Expect.equal y.dtype torch.ScalarType.Float64 "output"
        }

        test "a float64 model trains (TrainStep and compiled fit report its float64 loss)" {
            torchReady 12
            let f64 = DTypePolicy.Float64
            let model = Sequential(Input(4, Dtype = f64), Dense(3, activation = "tanh", Dtype = f64), Dense(1, Dtype = f64))
            use net = BuiltNetwork.Build model
            use x = torch.rand(8L, 4L, dtype = torch.ScalarType.Float64)
            use t = torch.rand(8L, 1L, dtype = torch.ScalarType.Float64)
            use opt = torch.optim.SGD(net.TrainableParameters, 0.1)
            let loss = net.TrainStep(x, t, (fun p y -> torch.nn.functional.mse_loss(p, y)), opt)
            Expect.isTrue (Single.IsFinite loss && loss > 0.0f) "the step's loss"
            let compiled = net.Compile(SGD(0.1), MeanSquaredError())
            let history = compiled.Fit(x, t, batchSize = 4, epochs = 2, verbose = Verbose 0)
            Expect.equal history.["loss"].Count 2 "two epochs of float64 losses"
        }
    ]

/// Applies one gradient with the value g to a fresh 1-element parameter through `opt`; returns the parameter.
let private param () = new TorchSharp.Modules.Parameter(torch.tensor([| 1.0f |]))

[<Tests>]
let lossScaleTests =
    testSequenced <| testList "LossScaleOptimizer" [
        test "Keras's defaults: initial scale 2^15, growth after 2000 steps" {
            let o = LossScaleOptimizer(SGD())
            Expect.equal o.InitialScale 32768.0 "initial scale"
            Expect.equal o.DynamicGrowthSteps 2000 "growth steps"
            Expect.equal o.DynamicScale 32768.0 "scale"
        }

        test "an infinite gradient halves the scale and skips the step; finite steps unscale and grow the scale after N" {
            torchReady 3
            let p = param ()
            let o = LossScaleOptimizer(SGD(learningRate = 0.5), initialScale = 8.0, dynamicGrowthSteps = 2)
            o.Build [ p ]
            use inf = torch.tensor([| Single.PositiveInfinity |])
            o.Apply [| inf |]
            Expect.equal o.DynamicScale 4.0 "halved"
            Expect.equal o.Iterations 0L "skipped: no iteration"
            Expect.equal (values p).[0] 1.0 "skipped: weight unchanged"
            use nan = torch.tensor([| Single.NaN |])
            o.Apply [| nan |]
            Expect.equal o.DynamicScale 2.0 "NaN halves too"
            // A gradient of the scaled loss: 0.2 · scale.
            use g1 = torch.tensor([| 0.2f * 2.0f |])
            o.Apply [| g1 |]
            Expect.floatClose Accuracy.high (values p).[0] 0.9 "1 − 0.5 · 0.2"
            Expect.equal o.StepCounter 1 "one finite step"
            Expect.equal o.DynamicScale 2.0 "not yet grown"
            use g2 = torch.tensor([| 0.2f * 2.0f |])
            o.Apply [| g2 |]
            Expect.floatClose Accuracy.high (values p).[0] 0.8 "unscaled by the scale of its loss"
            Expect.equal o.DynamicScale 4.0 "doubled after 2 finite steps"
            Expect.equal o.StepCounter 0 "counter reset"
            Expect.equal o.Iterations 2L "two applied steps"
        }

        test "the loss is scaled, the learning rate and slots are the inner optimizer's" {
            torchReady 3
            let inner = Adam(learningRate = 0.01)
            let o = LossScaleOptimizer(inner, initialScale = 4.0)
            o.Build [ param () ]
            use loss = torch.tensor(1.5f)
            use scaled = o.ScaleLoss loss
            Expect.equal (scaled.item<float32>()) 6.0f "scaled loss"
            o.LearningRate <- 0.02
            Expect.equal inner.LearningRate 0.02 "learning rate forwarded"
            Expect.sequenceEqual o.SlotNames inner.SlotNames "slots"
            Expect.equal o.Config.["inner_optimizer"] "Adam" "config names the inner optimizer"
            Expect.equal o.Config.["initial_scale"] "4" "config"
        }

        test "bad arguments are refused, naming them" {
            throwsWith<ArgumentException> [ "initialScale"; "0" ] (fun () -> LossScaleOptimizer(SGD(), initialScale = 0.0) |> ignore)
            throwsWith<ArgumentException> [ "dynamicGrowthSteps"; "0" ] (fun () -> LossScaleOptimizer(SGD(), dynamicGrowthSteps = 0) |> ignore)
            throwsWith<ArgumentException> [ "already a LossScaleOptimizer" ] (fun () -> LossScaleOptimizer(LossScaleOptimizer(SGD())) |> ignore)
        }

        test "compiling a mixed_float16 model wraps the optimizer, as Keras does" {
            torchReady 4
            let model = using (DTypePolicy.Use(DTypePolicy.MixedFloat16)) (fun _ -> Sequential(Input(4), Dense(2)))
            use net = BuiltNetwork.Build model
            let compiled = net.Compile(SGD(), MeanSquaredError())
            Expect.isTrue (compiled.Optimizer :? LossScaleOptimizer) "wrapped"
        }
    ]

/// 256 MNIST digits drawn from the repository's data/ (a real data set, small enough for a unit test).
let private digits =
    lazy
        (let struct (sample, _) = DigitSet.Load(DigitSet.FindRepositoryData "mnist").Split(256, 17)
         DigitTensors.Images sample, DigitTensors.Labels sample)

[<Tests>]
let trainingTests =
    testSequenced <| testList "Mixed precision training" [
        for name in [ "mixed_bfloat16"; "mixed_float16" ] do
            test (sprintf "%s training steps on MNIST digits lower the loss; the weights stay float32" name) {
                torchReady 12
                let images, labels = digits.Value
                let model =
                    using (DTypePolicy.Use(policy name)) (fun _ ->
                        Sequential(Input(28, 28, 1), Conv2D(8, 3, activation = "relu"), MaxPooling2D(2), Flatten(),
                                   Dense(10, activation = "softmax")))
                use net = BuiltNetwork.Build model
                let compiled = net.Compile(Adam(learningRate = 0.005), SparseCategoricalCrossentropy(), seed = 3L)
                let before = compiled.Evaluate(images, labels, batchSize = 64).["loss"]
                for _ in 1 .. 15 do compiled.TrainStep([| images |], [| labels |]) |> ignore
                let after = compiled.Evaluate(images, labels, batchSize = 64).["loss"]
                Expect.isLessThan after (before * 0.7) (sprintf "loss %g → %g" before after)
                for w in net.Weights do Expect.equal w.Parameter.dtype torch.ScalarType.Float32 (w.Name + " float32")
            }
    ]
