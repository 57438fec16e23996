/// The SpamLstm pipeline, shared by the example's Program.fs and the test suite (tests/TextPreprocessingTests.fs runs it
/// on a slice of the real file): read data/spam-assassin/messages.tsv.gz, adapt a TextVectorization on the training
/// texts, train Embedding(mask_zero=True) → Bidirectional(LSTM) → Dense(sigmoid) on variable-length batches (each padded
/// to its own longest text; the mask does the rest), then predict raw held-out strings through an end-to-end model that
/// starts with a string Input and the same vectorizer (Keras's "end-to-end model" recipe).
module Functional.Examples.SpamPipeline

open System
open System.Diagnostics
open System.IO
open System.IO.Compression
open TorchSharp
open Functional.Shapes
open Functional.Functions
open Functional.Layers
open Functional.Models
open Functional.Torch
open Functional.Torch.Building
open Functional.Torch.Layers
open Functional.Torch.Data
open Functional.Torch.Saving
open Functional.Training
open Functional.Torch.Training

/// One mail: spam or not, and its text (subject + start of the body).
type Mail = { Spam: bool; Text: string }

/// Reads the gzipped `label<TAB>text` file the data tool writes.
let load (path: string) : Mail[] =
    use file = File.OpenRead path
    use gz = new GZipStream(file, CompressionMode.Decompress)
    use reader = new StreamReader(gz, Text.Encoding.UTF8)
    [| let mutable line = reader.ReadLine()
       let mutable number = 1
       while not (isNull line) do
           match line.Split('\t', 2) with
           | [| "spam"; text |] -> yield { Spam = true; Text = text }
           | [| "ham"; text |] -> yield { Spam = false; Text = text }
           | _ -> failwithf "%s, line %d: expected 'spam' or 'ham', a tab and the text." path number
           line <- reader.ReadLine()
           number <- number + 1 |]

/// The file's (already shuffled) mails split into the first (1 − heldOut) for training and the rest held out.
let split (heldOut: float) (mails: Mail[]) =
    let n = int (float mails.Length * (1.0 - heldOut))
    mails.[.. n - 1], mails.[n ..]

type Settings =
    { MaxTokens: int
      EmbeddingDim: int
      Units: int
      Epochs: int
      BatchSize: int
      Seed: int }

let defaults = { MaxTokens = 15000; EmbeddingDim = 32; Units = 32; Epochs = 3; BatchSize = 64; Seed = 42 }

type Outcome =
    { Vectorizer: TextVectorization
      Summary: string
      TrainSeconds: float
      Losses: float list
      /// Held-out accuracy, from the raw strings through the end-to-end model.
      Accuracy: float
      /// The share of the larger class among the held-out mails.
      MajorityRate: float
      /// Held-out mails with the spam probability the end-to-end model gives their raw text.
      Predictions: (Mail * float32)[] }

let private labels (mails: Mail[]) = mails |> Array.map (fun m -> if m.Spam then 1.0f else 0.0f)

/// Trains on `train` and predicts `test` from raw strings; `log` hears each step of the way.
let run (settings: Settings) (train: Mail[]) (test: Mail[]) (log: string -> unit) : Outcome =
    torch.manual_seed (int64 settings.Seed) |> ignore
    let vectorizer = TextVectorization(maxTokens = settings.MaxTokens, Name = "text_vectorization").Adapt(train |> Array.map (fun m -> m.Text))
    log (sprintf "Vocabulary: %d entries (max_tokens %d) adapted on %d training texts" (vectorizer.VocabularySize()) settings.MaxTokens train.Length)
    let embedding = Embedding(vectorizer.VocabularySize(), settings.EmbeddingDim, maskZero = true, Name = "embedding")
    let recurrent = Bidirectional(LSTM(settings.Units), Name = "bidirectional")
    let classifier = Dense(1, activation = ActivationFunction.Sigmoid, Name = "dense")
    // Trained on token indices of any length (one row per mail, 0 = padding)...
    let indices = Sequential(Input(Shape([| Nullable() |]), Dtype = DTypePolicy "int64", Name = "token_ids"), embedding, recurrent, classifier)
    // ...and used on raw strings: the same layers after a string Input and the vectorizer.
    let endToEnd = Sequential(Input(Shape([||]: int[]), Dtype = DTypePolicy "string", Name = "text"), vectorizer, embedding, recurrent, classifier)
    use net = BuiltNetwork.Build(indices)
    let compiled = net.Compile(Adam(learningRate = 0.005), BinaryCrossentropy(), [| "accuracy" |])
    let batches = TextBatches(vectorizer, train |> Array.map (fun m -> m.Text), labels train, settings.BatchSize, shuffle = true, seed = settings.Seed)
    let clock = Stopwatch.StartNew()
    let history = compiled.Fit(batches, epochs = settings.Epochs, verbose = Verbose 0)
    let seconds = clock.Elapsed.TotalSeconds
    let losses = history.["loss"] |> List.ofSeq
    losses |> List.iteri (fun i l -> log (sprintf "Epoch %d/%d: loss %.4f, accuracy %.4f" (i + 1) settings.Epochs l history.["accuracy"].[i]))
    use text = BuiltNetwork.Build(endToEnd)
    let weights = Path.Combine(Path.GetTempPath(), sprintf "spam-lstm-%s.safetensors" (Guid.NewGuid().ToString "N"))
    try
        net.SaveWeights weights
        text.LoadWeights weights
    finally
        File.Delete weights
    use probabilities = text.Predict(test |> Array.map (fun m -> m.Text), batchSize = 64)
    let p = probabilities.data<float32>().ToArray()
    let correct = Array.map2 (fun (m: Mail) (q: float32) -> (q >= 0.5f) = m.Spam) test p |> Array.filter id |> Array.length
    let spam = test |> Array.filter (fun m -> m.Spam) |> Array.length
    { Vectorizer = vectorizer
      Summary = endToEnd.Summary()
      TrainSeconds = seconds
      Losses = losses
      Accuracy = float correct / float test.Length
      MajorityRate = float (max spam (test.Length - spam)) / float test.Length
      Predictions = Array.zip test p }
